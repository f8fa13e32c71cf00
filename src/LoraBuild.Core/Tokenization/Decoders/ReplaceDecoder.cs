using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>Replaces a pattern in every token ("▁" to " ").</summary>
public sealed class ReplaceDecoder(Regex pattern, string content) : Decoder
{
    readonly string replacement = content.Replace("$", "$$");

    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.Replace(t, replacement)).ToList();
}
