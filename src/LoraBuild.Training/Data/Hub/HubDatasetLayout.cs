using LoraBuild.Diagnostics;
using LoraBuild.Hub.Datasets;

namespace LoraBuild.Training.Data.Hub;

/// <summary>
/// Which files of a Hub dataset repository an entry reads, as huggingface datasets decides for a repository without a
/// loading script: the entry's data_files (all the train split); else the README.md configs: (name: picks one; none:
/// the default one); else a {name}/ folder split by its file names; else the whole repository split by its file names
/// (<see cref="DataFilePatterns"/>). The Hub's parquet conversion (refs/convert/parquet) lays out {config}/{split}/NNNN.parquet
/// ({config}/partial-{split}/ for a partial conversion).
/// </summary>
public static class HubDatasetLayout
{
    public const string ConvertedBranch = "refs/convert/parquet";

    /// <summary>The files of the entry's split, in read order; empty when the repository has no data files at all.</summary>
    public static IReadOnlyList<string> Select(IReadOnlyList<string> listing, IReadOnlyList<DatasetCardConfig> configs, DatasetSpec spec, string split)
    {
        if (spec.DataFiles.Count > 0)
        {
            // Relative to the repository's root, as datasets resolves them for a repository without configs.
            var named = spec.DataFiles.SelectMany(p => DataFilePatterns.Match(listing, p)).Distinct().ToList();
            if (named.Count == 0)
                throw Error(ErrorCodes.HubDatasetNoDataFiles, spec, $"data_files {string.Join(", ", spec.DataFiles)} match no file of the repository.");
            return Pick(new Dictionary<string, IReadOnlyList<string>> { ["train"] = named }, spec, split, "data_files");
        }
        if (configs.Count > 0)
        {
            var config = spec.Name is { } name
                ? configs.FirstOrDefault(c => c.Name == name)
                    ?? throw Error(ErrorCodes.HubDatasetConfigMissing, spec, $"config '{name}' is not one of the repository's configs ({string.Join(", ", configs.Select(c => c.Name))}).")
                : configs.FirstOrDefault(c => c.IsDefault) ?? configs.FirstOrDefault(c => c.Name == "default") ?? (configs.Count == 1 ? configs[0]
                    : throw Error(ErrorCodes.HubDatasetConfigMissing, spec, $"the repository has several configs ({string.Join(", ", configs.Select(c => c.Name))}) and none is the default: choose one with name:."));
            var splits = config.DataFiles is { } patterns
                ? patterns.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value.SelectMany(g => DataFilePatterns.Match(listing, config.DataDir is { } d ? $"{d.TrimEnd('/')}/{g}" : g)).Distinct().ToList())
                : DataFilePatterns.InferSplits(listing, config.DataDir ?? "");
            return Pick(splits, spec, split, $"config '{config.Name}'");
        }
        if (spec.Name is { } folder && folder != "default")
        {
            var inFolder = DataFilePatterns.InferSplits(listing, folder);
            if (inFolder.Count == 0)
            {
                var folders = listing.Where(DataFilePatterns.IsDataFile).Select(f => f.Split('/')).Where(p => p.Length > 1).Select(p => p[0]).Distinct().ToList();
                throw Error(ErrorCodes.HubDatasetConfigMissing, spec,
                    $"config '{folder}': the repository has no configs: in its README.md and no {folder}/ folder of data files{(folders.Count > 0 ? $" (folders: {string.Join(", ", folders)})" : "")}.");
            }
            return Pick(inFolder, spec, split, $"folder {folder}/");
        }
        var all = DataFilePatterns.InferSplits(listing);
        return all.Count == 0 ? [] : Pick(all, spec, split, "the repository's files");
    }

    /// <summary>The parquet conversion's files of the entry's config and split (empty when it has none).</summary>
    public static IReadOnlyList<string> SelectConverted(IReadOnlyList<string> listing, DatasetSpec spec, string split)
    {
        var parquet = listing.Where(f => f.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        var configs = parquet.Select(f => f.Split('/')[0]).Distinct().ToList();
        var config = spec.Name ?? (configs.Contains("default") || configs.Count != 1 ? "default" : configs[0]);
        if (!configs.Contains(config))
            throw Error(ErrorCodes.HubDatasetConfigMissing, spec, $"config '{config}' is not in the Hub's parquet conversion ({ConvertedBranch}: {string.Join(", ", configs)}).");
        var splits = parquet.Where(f => f.StartsWith(config + "/", StringComparison.Ordinal) && f.Count(c => c == '/') == 2)
            .GroupBy(f => f.Split('/')[1] is var s && s.StartsWith("partial-", StringComparison.Ordinal) ? s["partial-".Length..] : s)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.OrderBy(f => f, StringComparer.Ordinal).ToList());
        return Pick(splits, spec, split, $"{ConvertedBranch} config '{config}'");
    }

    static IReadOnlyList<string> Pick(IReadOnlyDictionary<string, IReadOnlyList<string>> splits, DatasetSpec spec, string split, string where)
    {
        if (splits.TryGetValue(split, out var files) && files.Count > 0) return files;
        throw Error(ErrorCodes.HubDatasetSplitMissing, spec,
            $"split '{split}' is not in {where} (splits: {string.Join(", ", splits.Where(s => s.Value.Count > 0).Select(s => s.Key).DefaultIfEmpty("none"))}).");
    }

    static LoraBuildException Error(string code, DatasetSpec spec, string message) =>
        new(code, $"dataset {spec.Path}: {message}", spec.Source, spec.Line, column: spec.Column);
}
