using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.Normalizers;

/// <summary>Replaces every match of a literal or regex pattern (Llama 2 / Gemma: " " to "▁").</summary>
public sealed class ReplaceNormalizer(Regex pattern, string content) : Normalizer
{
    public override string Normalize(string text) => pattern.Replace(text, content.Replace("$", "$$"));
}
