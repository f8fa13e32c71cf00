using System.Text;
using System.Text.Json;

namespace LoraBuild.Tokenization.Normalizers;

/// <summary>HF tokenizers' normalizer: rewrites each piece of text between added tokens before pre-tokenization.</summary>
public abstract class Normalizer
{
    public abstract string Normalize(string text);

    internal static Normalizer? Read(JsonElement e, string path, ComponentReader reader)
    {
        if (ComponentReader.IsNull(e)) return null;
        var type = ComponentReader.Type(e);
        switch (type)
        {
            case "NFC": return new UnicodeNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeNormalizer(NormalizationForm.FormKD);
            case "Lowercase": return new LowercaseNormalizer();
            case "Prepend": return new PrependNormalizer(ComponentReader.String(e, "prepend") ?? "");
            case "Strip": return new StripNormalizer(ComponentReader.Bool(e, "strip_left", true), ComponentReader.Bool(e, "strip_right", true));
            case "Replace":
                var pattern = reader.Pattern(e, path);
                return pattern is null ? null : new ReplaceNormalizer(pattern, ComponentReader.String(e, "content") ?? "", ComponentReader.Literal(e));
            case "Sequence":
                var steps = new List<Normalizer>();
                if (e.TryGetProperty("normalizers", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var step in list.EnumerateArray())
                        if (Read(step, $"{path}.normalizers[{i++}]", reader) is { } n) steps.Add(n);
                }
                else reader.Invalid(path, "Sequence without 'normalizers'");
                return new SequenceNormalizer(steps);
            default:
                reader.Unsupported(path, $"normalizer '{type}' is not supported (NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Strip, Replace, Sequence are)");
                return null;
        }
    }
}
