using LoraBuild.Tokenization.PreTokenizers;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>
/// The replacement character back to spaces, except in the first token, where HF tokenizers drops every replacement
/// character (not only a leading one) unless prepend_scheme is never.
/// </summary>
public sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select((token, i) =>
        i == 0 && scheme != PrependScheme.Never ? token.Replace(replacement.ToString(), "") : token.Replace(replacement, ' ')).ToList();
}
