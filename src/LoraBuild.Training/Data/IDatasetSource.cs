using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data;

/// <summary>
/// Where a dataset entry's files come from. A local path gives its own files; a Hub dataset (<c>org/name</c>) resolves to
/// the repository's Parquet files downloaded into the local cache (data/, or the refs/convert/parquet branch), so
/// everything after this interface reads local files only.
/// </summary>
public interface IDatasetSource
{
    /// <summary>The local files of the entry, in the order their rows are read.</summary>
    IReadOnlyList<string> Files(DatasetSpec spec);

    /// <summary>What resolving the entry would fetch (nothing for a local path), for lorabuild check.</summary>
    string? WouldFetch(DatasetSpec spec);
}

/// <summary>
/// Local files and folders only. A Hub id is refused with LB0502: the worker reads Hub datasets through
/// <see cref="Hub.HubDatasetSource"/>, which hands local paths here.
/// </summary>
public sealed class LocalDatasetSource : IDatasetSource
{
    public IReadOnlyList<string> Files(DatasetSpec spec) => spec.IsHub
        ? throw new LoraBuildException(ErrorCodes.HubSourceUnsupported,
            $"dataset '{spec.Path}' is a Hugging Face Hub dataset id, and this reader reads local files and folders only. " +
            "`lorabuild train` and `lorabuild check` resolve Hub datasets through the Hub client; elsewhere, download the dataset's files and give their path.", spec.Source, spec.Line, column: spec.Column)
        : Readers.DatasetFiles.Resolve(spec.Path, spec.DataFiles, spec.Source, spec.Line);

    public string? WouldFetch(DatasetSpec spec) => spec.IsHub
        ? $"dataset {spec.Path}{(spec.Name is null ? "" : $" ({spec.Name})")} split {spec.Split ?? "train"}{(spec.Revision is null ? "" : $" at {spec.Revision}")}: its data files, through the Hub client"
        : null;
}
