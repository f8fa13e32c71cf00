using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data.Readers;

/// <summary>
/// The files of a local dataset path and the reader for each: a file by its extension (or the entry's ds_type), a folder
/// by every readable file under it in ordinal path order (as the Hub's data/ folder lists its shards).
/// </summary>
public static class DatasetFiles
{
    static readonly string[] Extensions = [".jsonl", ".json", ".parquet", ".csv", ".tsv"];

    public static IReadOnlyList<string> Resolve(string path, IReadOnlyList<string> dataFiles, string source, int line)
    {
        if (Directory.Exists(path))
        {
            var files = dataFiles.Count > 0
                ? dataFiles.Select(f => Path.GetFullPath(Path.Combine(path, f))).ToList()
                : Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()) && !Path.GetFileName(f).StartsWith('.'))
                    .Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0)
                throw new LoraBuildException(ErrorCodes.DatasetMissing, $"dataset folder '{path}' holds no {string.Join(", ", Extensions)} file.", source, line);
            foreach (var f in files.Where(f => !File.Exists(f)))
                throw new LoraBuildException(ErrorCodes.DatasetMissing, $"data_files: '{f}' not found.", source, line);
            return files;
        }
        if (!File.Exists(path)) throw new LoraBuildException(ErrorCodes.DatasetMissing, $"Dataset file not found: {path}", source, line);
        return [path];
    }

    /// <summary>The reader for a file: ds_type wins, else the extension.</summary>
    public static IDatasetReader ReaderFor(string file, string? dsType, string source, int line)
    {
        var extension = Path.GetExtension(file).ToLowerInvariant();
        return (dsType, extension) switch
        {
            ("parquet", _) or (null or "json" or "csv", ".parquet") => new ParquetDatasetReader(),
            ("csv", ".tsv") or (null, ".tsv") => new CsvReader('\t'),
            ("csv", _) or (null, ".csv") => new CsvReader(','),
            (_, ".json") => new JsonArrayReader(),
            (null or "json", ".jsonl") => new JsonLinesReader(),
            _ => throw new LoraBuildException(ErrorCodes.DatasetFileUnreadable,
                $"'{Path.GetFileName(file)}' is not a readable dataset file ({string.Join(", ", Extensions)}; ds_type json, parquet or csv).", source, line),
        };
    }
}
