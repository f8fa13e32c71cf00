using System.Text;
using LoraBuild.Tokenization.PreTokenizers;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>Maps byte-level characters back to bytes and decodes UTF-8 (invalid sequences become U+FFFD); a token with
/// characters outside the byte alphabet (an added token) contributes its own UTF-8 bytes.</summary>
public sealed class ByteLevelDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
            if (!ByteLevelAlphabet.TryDecode(token, bytes)) bytes.AddRange(Encoding.UTF8.GetBytes(token));
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}
