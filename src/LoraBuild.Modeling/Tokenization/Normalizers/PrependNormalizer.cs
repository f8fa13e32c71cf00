namespace LoraBuild.Tokenization.Normalizers;

/// <summary>Prepends a string to every non-empty piece (Llama 2's "▁").</summary>
public sealed class PrependNormalizer(string prepend) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prepend + text;
}
