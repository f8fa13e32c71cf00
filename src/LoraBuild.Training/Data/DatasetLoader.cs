using LoraBuild.Diagnostics;
using LoraBuild.Training.Data.Readers;
using LoraBuild.Training.Data.Strategies;

namespace LoraBuild.Training.Data;

/// <summary>
/// Reads Axolotl's <c>datasets:</c> list into examples: each entry's files through its source and reader, its split slice,
/// its type's strategy; entries are mixed as Axolotl merges them (concatenated in list order; the trainer then shuffles
/// with the run's seed). Every bad row of every file is reported at once (the first 20 listed), each naming file and row.
/// </summary>
public static class DatasetLoader
{
    /// <summary>Every example of the datasets, in memory (small datasets, tests); a run streams them with <see cref="Stream"/>.</summary>
    public static IReadOnlyList<RawExample> Load(IReadOnlyList<DatasetSpec> specs, IDatasetSource source) => Stream(specs, source).ToList();

    /// <summary>
    /// LoraBuild's own one-file JSONL (no type, not a Hub id) keeps its line reader (and its messages); every other
    /// dataset list goes through the dataset types and file readers. Returns that file, or null.
    /// </summary>
    public static string? OwnJsonl(IReadOnlyList<DatasetSpec> specs) =>
        specs is [{ Type: null, IsHub: false } only] && File.Exists(only.Path) && only.Path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? only.Path : null;

    /// <summary>A run's datasets as examples, lazily, through the reader <see cref="OwnJsonl"/> chooses.</summary>
    public static IEnumerable<RawExample> StreamRun(IReadOnlyList<DatasetSpec> specs, IDatasetSource source) =>
        OwnJsonl(specs) is { } jsonl ? JsonlDataset.Stream(jsonl) : Stream(specs, source);

    /// <summary>
    /// The examples of every entry, lazily, row by row (a dataset larger than memory passes through). Every problem is
    /// collected: after the first one nothing more is yielded, the remaining rows are only checked, and the enumeration
    /// ends by throwing them all at once, so a consumer writing what it is given (the tokenised store) never keeps a
    /// partial result.
    /// </summary>
    public static IEnumerable<RawExample> Stream(IReadOnlyList<DatasetSpec> specs, IDatasetSource source)
    {
        var errors = new List<LoraBuildException>();
        var entries = new List<(DatasetSpec Spec, IReadOnlyList<string> Files, DatasetSplit Split)>();
        foreach (var spec in specs)
        {
            try
            {
                entries.Add((spec, source.Files(spec), ParseSplit(spec)));
            }
            catch (LoraBuildException e)
            {
                errors.Add(e);
            }
        }
        var count = 0;
        foreach (var (spec, files, split) in entries)
            foreach (var example in EntryExamples(spec, files, split, errors))
            {
                if (errors.Count > 0) continue;
                count++;
                yield return example;
            }
        if (errors.Count > 0) throw Collected(errors);
        if (count == 0)
            throw new LoraBuildException(ErrorCodes.DatasetEmpty, "The datasets have no examples.", specs.Count > 0 ? specs[0].Source : null, specs.Count > 0 ? specs[0].Line : 0);
    }

    /// <summary>Every problem, each at its file and row; past 50, one more error says how many were left out.</summary>
    public static LoraBuildException Collected(IReadOnlyList<LoraBuildException> errors) =>
        LoraBuildException.All(errors.Count <= 50 ? errors
            : [.. errors.Take(50), new LoraBuildException(errors[50].Code, $"and {errors.Count - 50} more problems in the datasets (the first 50 are listed).", errors[50].File, errors[50].Line)]);

    /// <summary>One entry's examples in memory; bad rows go to <paramref name="errors"/>.</summary>
    public static List<RawExample> LoadEntry(DatasetSpec spec, IDatasetSource source, List<LoraBuildException> errors) =>
        StreamEntry(spec, source, errors).ToList();

    /// <summary>One entry's examples, lazily; bad rows go to <paramref name="errors"/> (a bad split or missing files throw at once).</summary>
    public static IEnumerable<RawExample> StreamEntry(DatasetSpec spec, IDatasetSource source, List<LoraBuildException> errors) =>
        EntryExamples(spec, source.Files(spec), ParseSplit(spec), errors);

    static DatasetSplit ParseSplit(DatasetSpec spec)
    {
        var split = DatasetSplit.Parse(spec.Split)
            ?? throw new LoraBuildException(ErrorCodes.DatasetSpecInvalid, $"split '{spec.Split}' is not a split name with an optional slice such as train or train[:10%].", spec.Source, spec.Line);
        if (!spec.IsHub && split.Name != "train")
            throw new LoraBuildException(ErrorCodes.DatasetSpecInvalid,
                $"split '{split.Name}': a local dataset has one split, train (as datasets' json / parquet / csv loaders name it).", spec.Source, spec.Line);
        return split;
    }

    /// <summary>
    /// The examples of an entry's slice. A slice measured from the end or in percent needs the entry's example count
    /// first: one pass counts (and collects the bad rows), a second yields the slice, so nothing is held in memory.
    /// </summary>
    static IEnumerable<RawExample> EntryExamples(DatasetSpec spec, IReadOnlyList<string> files, DatasetSplit split, List<LoraBuildException> errors)
    {
        var strategy = PromptStrategies.For(spec);
        int start = 0, end = int.MaxValue;
        var scanErrors = errors;
        if (split.NeedsCount)
        {
            var count = Examples(spec, files, strategy, errors).Count();
            (start, end) = split.Range(count);
            scanErrors = [];
        }
        else if (split.From is not null || split.To is not null)
        {
            (start, end) = split.Range(int.MaxValue);
        }
        var index = 0;
        foreach (var example in Examples(spec, files, strategy, scanErrors))
        {
            if (index >= start && index < end) yield return example;
            index++;
        }
    }

    static IEnumerable<RawExample> Examples(DatasetSpec spec, IReadOnlyList<string> files, IPromptStrategy strategy, List<LoraBuildException> errors)
    {
        foreach (var file in files)
        {
            var reader = DatasetFiles.ReaderFor(file, spec.DsType, spec.Source, spec.Line);
            foreach (var row in reader.Read(file))
            {
                if (row.Problem is { } problem)
                {
                    errors.Add(problem);
                    continue;
                }
                RawExample example;
                try
                {
                    example = strategy.ToExample(row);
                }
                catch (LoraBuildException e)
                {
                    errors.Add(e);
                    continue;
                }
                yield return example;
            }
        }
    }
}
