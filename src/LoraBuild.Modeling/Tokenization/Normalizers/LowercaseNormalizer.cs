namespace LoraBuild.Tokenization.Normalizers;

/// <summary>Unicode lowercase, culture-independent, as Rust's str::to_lowercase.</summary>
public sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}
