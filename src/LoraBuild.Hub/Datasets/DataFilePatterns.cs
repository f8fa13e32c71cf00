using System.Text;
using System.Text.RegularExpressions;

namespace LoraBuild.Hub.Datasets;

/// <summary>
/// Which files of a dataset repository hold which split, for a repository without a loading script or YAML configs,
/// as huggingface datasets infers it (data_files.py, fsspec >= 2023.12 patterns): first the sharded layout
/// data/{split}-00000-of-00001.*, whose file names name any split; then split keywords in folder names, then in file
/// names (train/training, validation/valid/dev/val, test/testing/eval/evaluation, separated by "-._ 0-9"); else every
/// file is train. Hidden files and folders and "__" folders are skipped, as datasets skips them.
/// </summary>
public static class DataFilePatterns
{
    const string Sep = "-._ 0-9";
    const string ShardedPattern = "data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*";

    static readonly (string Split, string[] Keywords)[] SplitKeywords =
    [
        ("train", ["train", "training"]),
        ("validation", ["validation", "valid", "dev", "val"]),
        ("test", ["test", "testing", "eval", "evaluation"]),
    ];

    static readonly string[] InFileName = ["**/{keyword}[{sep}]*", "**/*[{sep}]{keyword}[{sep}]*"];
    static readonly string[] InDirName = ["**/{keyword}/**", "**/{keyword}[{sep}]*/**", "**/*[{sep}]{keyword}/**", "**/*[{sep}]{keyword}[{sep}]*/**"];

    /// <summary>The extensions LoraBuild reads (datasets' packaged json, csv and parquet builders).</summary>
    public static readonly string[] DataExtensions = [".parquet", ".jsonl", ".json", ".csv", ".tsv"];

    /// <summary>
    /// Split name -> files (sorted), from <paramref name="files"/> (repository paths with '/'); only data files under
    /// <paramref name="baseFolder"/> (a config's folder, or "" for the whole repository) are considered.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> InferSplits(IEnumerable<string> files, string baseFolder = "")
    {
        var prefix = baseFolder.Length == 0 ? "" : baseFolder.TrimEnd('/') + "/";
        var candidates = files.Where(f => f.StartsWith(prefix, StringComparison.Ordinal))
            .Select(f => f[prefix.Length..])
            .Where(f => IsDataFile(f) && !IsHiddenOrSpecial(f))
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (candidates.Count == 0) return result;

        // 1. data/{split}-00000-of-00001.parquet: any split name.
        var sharded = GlobToRegex(ShardedPattern.Replace("{split}", "(?<split>[^/]+?)", StringComparison.Ordinal), keepGroups: true);
        var bySplit = candidates.Select(f => (File: f, Match: sharded.Match(f))).Where(m => m.Match.Success)
            .GroupBy(m => m.Match.Groups["split"].Value, StringComparer.Ordinal).ToList();
        if (bySplit.Count > 0)
        {
            foreach (var group in bySplit) result[group.Key] = group.Select(g => prefix + g.File).ToList();
            return result;
        }
        // 2. split keywords in folder names, 3. in file names, 4. everything is train.
        foreach (var patterns in new[] { InDirName, InFileName })
        {
            foreach (var (split, keywords) in SplitKeywords)
            {
                var regexes = keywords.SelectMany(k => patterns.Select(p => GlobToRegex(p.Replace("{keyword}", k).Replace("{sep}", Sep)))).ToList();
                var matched = candidates.Where(f => regexes.Any(r => r.IsMatch(f))).Select(f => prefix + f).ToList();
                if (matched.Count > 0) result[split] = matched;
            }
            if (result.Count > 0) return result;
        }
        result["train"] = candidates.Select(f => prefix + f).ToList();
        return result;
    }

    /// <summary>The files a user's data_files pattern (relative to the repository, glob with * ** [..]) names.</summary>
    public static IReadOnlyList<string> Match(IEnumerable<string> files, string pattern)
    {
        var regex = GlobToRegex(pattern.TrimStart('/'));
        return files.Where(f => regex.IsMatch(f) && (!IsHiddenOrSpecial(f) || IsHiddenOrSpecial(pattern))).OrderBy(f => f, StringComparer.Ordinal).ToList();
    }

    public static bool IsDataFile(string path) => DataExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    static bool IsHiddenOrSpecial(string path)
    {
        var parts = path.Split('/');
        return parts.Any(p => p.StartsWith('.') && p.Trim('.').Length > 0) || parts[..^1].Any(p => p.StartsWith("__", StringComparison.Ordinal));
    }

    /// <summary>
    /// A glob as Python's glob / fsspec >= 2023.12 reads it: '*' any characters but '/', '**' as a whole segment any
    /// number of folders (zero included), [...] a character class (a leading '-' literal).
    /// </summary>
    public static Regex GlobToRegex(string glob, bool keepGroups = false)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            if (keepGroups && c == '(')
            {
                // A named group the caller wrote (the sharded pattern's {split}): copied as it is.
                var close = glob.IndexOf(')', i);
                sb.Append(glob, i, close - i + 1);
                i = close;
            }
            else if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                var atStart = i == 0 || glob[i - 1] == '/';
                var slashAfter = i + 2 < glob.Length && glob[i + 2] == '/';
                if (atStart && slashAfter) { sb.Append("(?:.*/)?"); i += 2; }
                else if (atStart && i + 2 == glob.Length) { sb.Append(".*"); i += 1; }
                else { sb.Append("[^/]*"); i += 1; }
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else if (c == '[' && glob.IndexOf(']', i + 1) is var end && end > i)
            {
                var body = glob[(i + 1)..end];
                var negate = body.StartsWith('!');
                if (negate) body = body[1..];
                sb.Append('[').Append(negate ? "^" : "").Append(EscapeClass(body)).Append(']');
                i = end;
            }
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    /// <summary>A glob character class body as a .NET class body: ranges kept (a-z, 0-9), any other '-' literal.</summary>
    static string EscapeClass(string body)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            var isRange = c == '-' && i > 0 && i + 1 < body.Length;
            if (c is '\\' or '^' or '[' or ']' || (c == '-' && !isRange)) sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }
}
