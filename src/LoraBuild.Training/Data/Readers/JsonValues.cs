using System.Text.Json;

namespace LoraBuild.Training.Data.Readers;

/// <summary>A JSON value as the plain tree <see cref="DataRow"/> holds (whole numbers as long, others as double).</summary>
static class JsonValues
{
    public static object? ToPlain(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(ToPlain).ToList(),
        JsonValueKind.Object => ToRecord(e),
        _ => null,
    };

    public static Dictionary<string, object?> ToRecord(JsonElement e)
    {
        var record = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject()) record[p.Name] = ToPlain(p.Value);
        return record;
    }
}
