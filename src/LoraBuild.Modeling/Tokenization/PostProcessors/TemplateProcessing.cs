using System.Text.Json;

namespace LoraBuild.Tokenization.PostProcessors;

/// <summary>
/// The "single" template: special tokens and the sequence $A in order (Llama 3 / Gemma: "&lt;bos&gt; $A"). Each special
/// token of the template stands for the ids listed under special_tokens.
/// </summary>
public sealed class TemplateProcessing(IReadOnlyList<int[]?> single) : PostProcessor
{
    /// <summary>Entries: the ids of a special token, or null for the sequence.</summary>
    public IReadOnlyList<int[]?> Single => single;

    public static TemplateProcessing FromIds(IEnumerable<int> before, IEnumerable<int> after) =>
        new([.. before.Select(id => new[] { id }), null, .. after.Select(id => new[] { id })]);

    internal static TemplateProcessing? ReadTemplate(JsonElement e, string path, ComponentReader reader)
    {
        var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (e.TryGetProperty("special_tokens", out var table) && table.ValueKind == JsonValueKind.Object)
            foreach (var p in table.EnumerateObject())
                specials[p.Name] = p.Value.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        if (!e.TryGetProperty("single", out var singleJson) || singleJson.ValueKind != JsonValueKind.Array)
        {
            reader.Invalid(path, "TemplateProcessing without 'single'");
            return null;
        }
        var pieces = new List<int[]?>();
        foreach (var piece in singleJson.EnumerateArray())
        {
            if (piece.TryGetProperty("Sequence", out _)) pieces.Add(null);
            else if (piece.TryGetProperty("SpecialToken", out var special) && ComponentReader.String(special, "id") is { } name)
            {
                if (specials.TryGetValue(name, out var ids)) pieces.Add(ids);
                else reader.Invalid(path, $"template names special token '{name}' missing from special_tokens");
            }
            else reader.Invalid(path, "template piece is neither Sequence nor SpecialToken");
        }
        return new TemplateProcessing(pieces);
    }

    public override List<int> Process(List<int> ids)
    {
        var result = new List<int>(ids.Count + 4);
        foreach (var piece in single)
            if (piece is null) result.AddRange(ids);
            else result.AddRange(piece);
        return result;
    }
}
