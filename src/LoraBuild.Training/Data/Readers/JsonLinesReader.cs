using System.Text.Json;
using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data.Readers;

/// <summary>JSON Lines: one object a line, streamed; a bad line (JSON, UTF-8, not an object) is a row problem naming the line.</summary>
public sealed class JsonLinesReader : IDatasetReader
{
    public IEnumerable<DataRow> Read(string file)
    {
        var errors = new List<LoraBuildException>();
        foreach (var (line, text) in JsonlDataset.ReadLinesStrict(file, errors))
        {
            var at = new RowLocation(file, line);
            if (text is null)
            {
                yield return new DataRow(new Dictionary<string, object?>(), at) { Problem = errors[^1] };
                continue;
            }
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return Parse(text, at);
        }
    }

    static DataRow Parse(string text, RowLocation at)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? new DataRow(JsonValues.ToRecord(document.RootElement), at)
                : DataRow.Bad(at, $"expected a JSON object, found {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
        }
        catch (JsonException e)
        {
            return DataRow.Bad(at, $"not valid JSON ({e.Message.Split(" LineNumber")[0].TrimEnd('.', ' ')}).");
        }
        catch (InvalidOperationException)
        {
            return DataRow.Bad(at, "a string is not valid Unicode (a lone surrogate escape such as \\ud800).");
        }
    }
}
