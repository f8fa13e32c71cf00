using System.Text;

namespace LoraBuild.Tokenization.Normalizers;

/// <summary>NFC / NFD / NFKC / NFKD.</summary>
public sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    // Below U+0300 every character is NFC-stable (no combining marks, no NFC_Quick_Check=No characters); ASCII is
    // stable under all four forms. Checking that with a vectorised scan spares ICU's slower IsNormalized on most text.
    readonly char stableBelow = form == NormalizationForm.FormC ? '\u0300' : '\u0080';

    public override string Normalize(string text)
    {
        if (text.AsSpan().IndexOfAnyInRange(stableBelow, char.MaxValue) < 0) return text;
        return text.IsNormalized(form) ? text : text.Normalize(form);
    }
}
