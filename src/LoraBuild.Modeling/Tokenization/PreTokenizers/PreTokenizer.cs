using System.Text.Json;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>A piece of normalized text; AtStart when it begins at offset 0 of the input (Metaspace prepend_scheme "first").</summary>
public readonly record struct Piece(string Text, bool AtStart);

/// <summary>HF tokenizers' pre-tokenizer: splits pieces into the words the model encodes separately.</summary>
public abstract class PreTokenizer
{
    /// <summary>Splits every piece of <paramref name="pieces"/> and appends the results to <paramref name="output"/>.</summary>
    public abstract void PreTokenize(List<Piece> pieces, List<Piece> output);

    internal static PreTokenizer? Read(JsonElement e, string path, ComponentReader reader)
    {
        if (ComponentReader.IsNull(e)) return null;
        var type = ComponentReader.Type(e);
        switch (type)
        {
            case "ByteLevel":
                return new ByteLevelPreTokenizer(ComponentReader.Bool(e, "add_prefix_space", true), ComponentReader.Bool(e, "use_regex", true));
            case "Split":
            {
                var pattern = reader.Pattern(e, path);
                var behavior = SplitBehaviorParser.Read(e, path, reader);
                return pattern is null || behavior is null ? null : new SplitPreTokenizer(pattern, behavior.Value, ComponentReader.Bool(e, "invert", false));
            }
            case "Metaspace":
                return MetaspacePreTokenizer.ReadMetaspace(e, path, reader);
            case "Digits":
                return new DigitsPreTokenizer(ComponentReader.Bool(e, "individual_digits", false));
            case "Punctuation":
                return SplitBehaviorParser.Read(e, path, reader, SplitBehavior.Isolated) is { } b ? new PunctuationPreTokenizer(b) : null;
            case "Whitespace":
                return new WhitespacePreTokenizer();
            case "WhitespaceSplit":
                return new WhitespaceSplitPreTokenizer();
            case "Sequence":
                var steps = new List<PreTokenizer>();
                if (e.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var step in list.EnumerateArray())
                        if (Read(step, $"{path}.pretokenizers[{i++}]", reader) is { } p) steps.Add(p);
                }
                else reader.Invalid(path, "Sequence without 'pretokenizers'");
                return new SequencePreTokenizer(steps);
            default:
                reader.Unsupported(path, $"pre_tokenizer '{type}' is not supported (ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, Sequence are)");
                return null;
        }
    }
}
