namespace LoraBuild.Tokenization.Normalizers;

/// <summary>Removes leading and/or trailing whitespace.</summary>
public sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string text) => (left, right) switch
    {
        (true, true) => text.Trim(),
        (true, false) => text.TrimStart(),
        (false, true) => text.TrimEnd(),
        _ => text,
    };
}
