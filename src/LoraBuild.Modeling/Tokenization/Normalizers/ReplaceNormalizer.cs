using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.Normalizers;

/// <summary>Replaces every match of a literal or regex pattern (Llama 2 / Gemma: " " to "▁").</summary>
public sealed class ReplaceNormalizer(Regex pattern, string content, string? literal = null) : Normalizer
{
    readonly string replacement = content.Replace("$", "$$");

    public override string Normalize(string text) =>
        literal is { Length: > 0 } ? text.Replace(literal, content, StringComparison.Ordinal) : pattern.Replace(text, replacement);
}
