using System.Text.Json;

namespace LoraBuild.Training.Data.Readers;

/// <summary>
/// A .json file holding one array of objects (as datasets' json loader reads it). Each object is parsed on its own as the
/// reader walks the array, and named by the line it starts on. A whole-file syntax error is one problem at its line.
/// </summary>
public sealed class JsonArrayReader : IDatasetReader
{
    public IEnumerable<DataRow> Read(string file)
    {
        var bytes = File.ReadAllBytes(file);
        // datasets' json loader reads a .json file of one object a line as JSON Lines.
        var first = bytes.AsSpan().IndexOfAnyExcept(" \t\r\n\uFEFF"u8.ToArray());
        if (first >= 0 && bytes[first] == '{') return new JsonLinesReader().Read(file);
        var rows = new List<DataRow>();
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        int lineCounted = 1, countedTo = 0;
        int LineAt(long offset)
        {
            for (; countedTo < offset; countedTo++) if (bytes[countedTo] == '\n') lineCounted++;
            return lineCounted;
        }
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                rows.Add(DataRow.Bad(new RowLocation(file, 1), "a .json dataset must be one array of objects ([{...}, {...}]); write one object a line as .jsonl otherwise."));
                return rows;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var at = new RowLocation(file, LineAt(reader.TokenStartIndex));
                using var element = JsonDocument.ParseValue(ref reader);
                rows.Add(element.RootElement.ValueKind == JsonValueKind.Object
                    ? new DataRow(JsonValues.ToRecord(element.RootElement), at)
                    : DataRow.Bad(at, $"expected a JSON object, found {element.RootElement.ValueKind.ToString().ToLowerInvariant()}."));
            }
        }
        catch (JsonException e)
        {
            rows.Add(DataRow.Bad(new RowLocation(file, (int)(e.LineNumber ?? 0) + 1), $"not valid JSON ({e.Message.Split(" LineNumber")[0].TrimEnd('.', ' ')})."));
        }
        catch (InvalidOperationException)
        {
            rows.Add(DataRow.Bad(new RowLocation(file, LineAt(reader.TokenStartIndex)), "a string is not valid Unicode (a lone surrogate escape)."));
        }
        return rows;
    }
}
