namespace LoraBuild.Tokenization.Decoders;

/// <summary>Applies decoders in order, each to the token list the previous one produced.</summary>
public sealed class SequenceDecoder(IReadOnlyList<Decoder> steps) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var step in steps) tokens = step.DecodeChain(tokens);
        return tokens;
    }
}
