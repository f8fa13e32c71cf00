using System.Text;
using System.Text.RegularExpressions;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>
/// GPT-2's byte-level step: optionally a leading space and GPT-2's split regex, then every UTF-8 byte mapped to its
/// printable stand-in character (<see cref="ByteLevelAlphabet"/>).
/// </summary>
public sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    internal static readonly Regex Gpt2Pattern = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        var split = new List<Piece>();
        foreach (var piece in pieces)
        {
            var text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
            split.Clear();
            if (useRegex) Splitter.Apply(piece with { Text = text }, Splitter.RegexRanges(Gpt2Pattern, text, false), SplitBehavior.Isolated, split);
            else if (text.Length > 0) split.Add(piece with { Text = text });
            foreach (var s in split) output.Add(s with { Text = ByteLevelAlphabet.Encode(s.Text) });
        }
    }
}

/// <summary>GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for code points from U+0100 on.</summary>
public static class ByteLevelAlphabet
{
    public static readonly char[] ByteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
            map[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) ? (char)b : (char)next++;
        return map;
    }

    public static string Encode(string text)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Span<byte> bytes = max <= 1024 ? stackalloc byte[max] : new byte[max];
        var count = Encoding.UTF8.GetBytes(text, bytes);
        Span<char> chars = count <= 1024 ? stackalloc char[count] : new char[count];
        for (var i = 0; i < count; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes a token stands for, or null when a character is outside the alphabet (an added token).</summary>
    public static bool TryDecode(string token, List<byte> output)
    {
        var start = output.Count;
        foreach (var c in token)
        {
            if (!CharToByte.TryGetValue(c, out var b))
            {
                output.RemoveRange(start, output.Count - start);
                return false;
            }
            output.Add(b);
        }
        return true;
    }
}
