using nietras.SeparatedValues;

namespace LoraBuild.Training.Data.Readers;

/// <summary>
/// CSV / TSV with a header row, through Sep (RFC 4180 quoting, so quoted newlines stay in their cell). An empty cell is null,
/// as pandas (datasets' csv loader) reads it. Rows stream; each is named by the line it starts on.
/// </summary>
public sealed class CsvReader(char separator) : IDatasetReader
{
    public IEnumerable<DataRow> Read(string file)
    {
        using var reader = Sep.New(separator).Reader(o => o with { Unescape = true, DisableColCountCheck = true }).FromFile(file);
        var names = reader.Header.ColNames.ToArray();
        foreach (var row in reader)
        {
            var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < names.Length; i++)
            {
                var text = i < row.ColCount ? row[i].ToString() : "";
                fields[names[i]] = text.Length == 0 ? null : text;
            }
            var at = new RowLocation(file, row.LineNumberFrom);
            yield return row.ColCount > names.Length
                ? DataRow.Bad(at, $"{row.ColCount} cells but the header names {names.Length} columns (an unquoted separator or quote?).")
                : new DataRow(fields, at);
        }
    }
}
