using System.Globalization;

namespace LoraBuild.Tokenization;

/// <summary>
/// .NET regexes see a character outside the BMP as two surrogates (category Cs), so \p{L}, \p{S}, \p{M} never match
/// an emoji or 𝐀, as they do in HF's Oniguruma. Before matching, each surrogate pair is replaced by one BMP stand-in of
/// the same general category (non-ASCII, so no literal of a real pattern matches it), and match ranges are mapped back.
/// </summary>
internal static class AstralText
{
    static readonly Dictionary<UnicodeCategory, char> StandIns = new()
    {
        [UnicodeCategory.UppercaseLetter] = 'À', [UnicodeCategory.LowercaseLetter] = 'ß', [UnicodeCategory.TitlecaseLetter] = 'ǅ',
        [UnicodeCategory.ModifierLetter] = 'ʰ', [UnicodeCategory.OtherLetter] = 'א', [UnicodeCategory.NonSpacingMark] = '\u0300',
        [UnicodeCategory.SpacingCombiningMark] = '\u0903', [UnicodeCategory.EnclosingMark] = '\u20DD', [UnicodeCategory.DecimalDigitNumber] = '٠',
        [UnicodeCategory.LetterNumber] = 'Ⅰ', [UnicodeCategory.OtherNumber] = '²', [UnicodeCategory.ConnectorPunctuation] = '‿',
        [UnicodeCategory.DashPunctuation] = '‐', [UnicodeCategory.OpenPunctuation] = '༺', [UnicodeCategory.ClosePunctuation] = '༻',
        [UnicodeCategory.InitialQuotePunctuation] = '«', [UnicodeCategory.FinalQuotePunctuation] = '»', [UnicodeCategory.OtherPunctuation] = '¡',
        [UnicodeCategory.MathSymbol] = '¬', [UnicodeCategory.CurrencySymbol] = '¢', [UnicodeCategory.ModifierSymbol] = '¨',
        [UnicodeCategory.OtherSymbol] = '©', [UnicodeCategory.Format] = '\u00AD', [UnicodeCategory.PrivateUse] = '\uE000',
        [UnicodeCategory.OtherNotAssigned] = '\u0378',
    };

    public static bool HasSurrogates(string text) => text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>The text with stand-ins, and for every index of it (and its end) the index in the original.</summary>
    public static (string Text, int[] OriginalIndex) Substitute(string text)
    {
        var chars = new char[text.Length];
        var map = new int[text.Length + 1];
        var n = 0;
        for (var i = 0; i < text.Length; i++)
        {
            map[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                chars[n++] = StandIns.GetValueOrDefault(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1])), '\u0378');
                i++;
            }
            else chars[n++] = text[i];
        }
        map[n] = text.Length;
        return (new string(chars, 0, n), map[..(n + 1)]);
    }
}
