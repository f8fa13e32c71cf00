namespace LoraBuild.Tokenization.Decoders;

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from every token.</summary>
public sealed class StripDecoder(char content, int start, int stop) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(token =>
    {
        var from = 0;
        while (from < start && from < token.Length && token[from] == content) from++;
        var to = token.Length;
        while (token.Length - to < stop && to > from && token[to - 1] == content) to--;
        return token[from..to];
    }).ToList();
}
