using System.Text.Json;
using System.Text.RegularExpressions;
using LoraBuild.Diagnostics;

namespace LoraBuild.Tokenization;

/// <summary>
/// Reads the components of one tokenizer.json and collects every unsupported or malformed piece, so the user sees all
/// problems of the file at once (one LB0071/LB0072 naming each component by its JSON path).
/// </summary>
internal sealed class ComponentReader(string file)
{
    readonly List<string> unsupported = [];
    readonly List<string> invalid = [];

    public string File => file;

    public void Unsupported(string jsonPath, string what) => unsupported.Add($"{jsonPath}: {what}");
    public void Invalid(string jsonPath, string what) => invalid.Add($"{jsonPath}: {what}");

    public void ThrowIfProblems()
    {
        if (invalid.Count > 0)
            throw new LoraBuildException(ErrorCodes.TokenizerInvalid, "tokenizer.json is malformed: " + string.Join("; ", invalid.Concat(unsupported)), file);
        if (unsupported.Count > 0)
            throw new LoraBuildException(ErrorCodes.TokenizerUnsupported, "tokenizer.json uses what LoraBuild does not implement: " + string.Join("; ", unsupported), file);
    }

    public static string Type(JsonElement e) => e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";

    public static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => fallback } : fallback;

    public static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static bool IsNull(JsonElement e) => e.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>The literal of a {"String": "..."} pattern, which string.Replace handles faster than a regex.</summary>
    public static string? Literal(JsonElement owner) =>
        owner.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("String", out var s) ? s.GetString() : null;

    /// <summary>A pattern as HF writes it: {"String": "..."} (literal) or {"Regex": "..."} (Oniguruma syntax).</summary>
    public Regex? Pattern(JsonElement owner, string jsonPath)
    {
        if (!owner.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
        {
            Invalid(jsonPath, "pattern is missing");
            return null;
        }
        if (pattern.TryGetProperty("String", out var literal)) return new Regex(Regex.Escape(literal.GetString()!), RegexOptions.CultureInvariant | RegexOptions.Compiled);
        if (pattern.TryGetProperty("Regex", out var regex))
        {
            try { return OnigurumaRegex.Create(regex.GetString()!); }
            catch (ArgumentException e)
            {
                Unsupported(jsonPath, $"regex '{regex.GetString()}' cannot be translated to .NET ({e.Message})");
                return null;
            }
        }
        Invalid(jsonPath, "pattern is neither String nor Regex");
        return null;
    }
}

/// <summary>HF tokenizers compiles Split/Replace regexes with Oniguruma; the patterns real tokenizers use are valid .NET.</summary>
internal static class OnigurumaRegex
{
    public static Regex Create(string pattern) => new(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
}
