using System.Text.Json;

namespace LoraBuild.Tokenization.PreTokenizers;

/// <summary>When SentencePiece-style tokenizers put "▁" before a piece (old files say add_prefix_space instead).</summary>
public enum PrependScheme { Always, First, Never }

/// <summary>SentencePiece-style: spaces become the replacement ("▁"), a leading one is prepended per scheme, then optionally split before each.</summary>
public sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : PreTokenizer
{
    internal static MetaspacePreTokenizer? ReadMetaspace(JsonElement e, string path, ComponentReader reader)
    {
        var replacement = ComponentReader.String(e, "replacement") ?? "▁";
        if (replacement.Length != 1)
        {
            reader.Unsupported(path, $"Metaspace replacement '{replacement}' is not one UTF-16 character");
            return null;
        }
        var scheme = ReadScheme(e, path, reader);
        return scheme is null ? null : new MetaspacePreTokenizer(replacement[0], scheme.Value, ComponentReader.Bool(e, "split", true));
    }

    internal static PrependScheme? ReadScheme(JsonElement e, string path, ComponentReader reader)
    {
        switch (ComponentReader.String(e, "prepend_scheme"))
        {
            case "always": return PrependScheme.Always;
            case "first": return PrependScheme.First;
            case "never": return PrependScheme.Never;
            case null: return ComponentReader.Bool(e, "add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never;
            case var other:
                reader.Unsupported(path, $"Metaspace prepend_scheme '{other}' is unknown");
                return null;
        }
    }

    public override void PreTokenize(List<Piece> pieces, List<Piece> output)
    {
        foreach (var piece in pieces)
        {
            var text = piece.Text.Replace(' ', replacement);
            var prepend = scheme == PrependScheme.Always || (scheme == PrependScheme.First && piece.AtStart);
            if (prepend && !text.StartsWith(replacement)) text = replacement + text;
            var replaced = piece with { Text = text };
            if (!split)
            {
                if (text.Length > 0) output.Add(replaced);
                continue;
            }
            Splitter.Apply(replaced, Splitter.CharRanges(text, (s, i) => s[i] == replacement), SplitBehavior.MergedWithNext, output);
        }
    }
}
