using System.Text;

namespace LoraBuild.Tokenization.Normalizers;

/// <summary>NFC / NFD / NFKC / NFKD.</summary>
public sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
}
