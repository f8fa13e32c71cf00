using System.Text;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>Runs of &lt;0xXX&gt; tokens become the text their bytes spell; an invalid run becomes one U+FFFD per byte.</summary>
public sealed class ByteFallbackDecoder : Decoder
{
    static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            try { result.Add(Strict.GetString(bytes.ToArray())); }
            catch (DecoderFallbackException) { for (var i = 0; i < bytes.Count; i++) result.Add("\uFFFD"); }
            bytes.Clear();
        }
        foreach (var token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
                byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
            {
                bytes.Add(b);
                continue;
            }
            Flush();
            result.Add(token);
        }
        Flush();
        return result;
    }
}
