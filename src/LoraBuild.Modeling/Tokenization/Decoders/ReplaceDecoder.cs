using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>Replaces a literal or regex pattern in every token ("▁" to " ").</summary>
public sealed class ReplaceDecoder(Regex pattern, string content, string? literal = null) : Decoder
{
    readonly string replacement = content.Replace("$", "$$");

    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t =>
        literal is { Length: > 0 } ? t.Replace(literal, content, StringComparison.Ordinal) : pattern.Replace(t, replacement)).ToList();
}
