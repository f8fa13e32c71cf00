namespace LoraBuild.Tokenization.Decoders;

/// <summary>Joins all tokens into one.</summary>
public sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}
