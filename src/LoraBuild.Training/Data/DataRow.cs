using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data;

/// <summary>
/// Where a row came from: a line for text formats (JSONL, JSON, CSV: the row's first line), a row group and row for Parquet.
/// </summary>
public sealed record RowLocation(string File, int Line, int RowGroup = -1, long Row = -1)
{
    public override string ToString() => RowGroup >= 0 ? $"{File} (row group {RowGroup}, row {Row})" : $"{File}:{Line}";

    /// <summary>A coded error naming this row (file(line) for text; the row group and row in the message for Parquet).</summary>
    public LoraBuildException Error(string code, string message) =>
        RowGroup >= 0 ? new(code, $"row group {RowGroup}, row {Row}: {message}", File) : new(code, message, File, Line);
}

/// <summary>
/// One row of a dataset as a plain tree: strings, numbers, booleans, nulls, lists (<see cref="IReadOnlyList{T}"/>) and
/// records (<see cref="IReadOnlyDictionary{TKey,TValue}"/>), whatever file format it came from.
/// </summary>
public sealed record DataRow(IReadOnlyDictionary<string, object?> Fields, RowLocation Location)
{
    /// <summary>A row the reader could not parse (bad JSON, bad UTF-8): carried to the consumer so every bad row is reported at once.</summary>
    public LoraBuildException? Problem { get; init; }

    public static DataRow Bad(RowLocation at, string message) =>
        new(new Dictionary<string, object?>(), at) { Problem = at.Error(ErrorCodes.DatasetLineInvalid, message) };

    public LoraBuildException Invalid(string message) => Location.Error(ErrorCodes.DatasetRowInvalid, message);

    public bool Has(string column) => Fields.TryGetValue(column, out var v) && v is not null;

    /// <summary>A text column; a missing column or null is an error naming the row, unless <paramref name="optional"/> (then null).</summary>
    public string? Text(string column, bool optional = false)
    {
        if (!Fields.TryGetValue(column, out var value) || value is null)
            return optional ? null : throw Invalid(Fields.ContainsKey(column) ? $"\"{column}\" is null." : $"no \"{column}\" column (columns: {string.Join(", ", Fields.Keys)}).");
        return value switch
        {
            string s => s,
            bool or long or int or double or float or decimal => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
            _ => throw Invalid($"\"{column}\" must be text, found {Describe(value)}."),
        };
    }

    public static string Describe(object? value) => value switch
    {
        null => "null",
        string => "text",
        IReadOnlyDictionary<string, object?> => "a record",
        System.Collections.IEnumerable => "a list",
        _ => value.GetType().Name.ToLowerInvariant(),
    };
}
