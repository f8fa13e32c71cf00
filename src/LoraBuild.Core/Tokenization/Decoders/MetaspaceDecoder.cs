using LoraBuild.Tokenization.PreTokenizers;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>The replacement character back to spaces; the first token loses its leading one unless prepend_scheme is never.</summary>
public sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select((token, i) =>
    {
        var text = token.Replace(replacement, ' ');
        return i == 0 && scheme != PrependScheme.Never && text.StartsWith(' ') ? text[1..] : text;
    }).ToList();
}
