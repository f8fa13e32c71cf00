using System.Text.Json;
using LoraBuild.Tokenization.PreTokenizers;

namespace LoraBuild.Tokenization.Decoders;

/// <summary>HF tokenizers' decoder: a chain that rewrites the list of token strings, finally joined.</summary>
public abstract class Decoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public string Decode(List<string> tokens) => string.Concat(DecodeChain(tokens));

    internal static Decoder? Read(JsonElement e, string path, ComponentReader reader)
    {
        if (ComponentReader.IsNull(e)) return null;
        var type = ComponentReader.Type(e);
        switch (type)
        {
            case "ByteLevel": return new ByteLevelDecoder();
            case "ByteFallback": return new ByteFallbackDecoder();
            case "Fuse": return new FuseDecoder();
            case "Strip":
                return new StripDecoder((ComponentReader.String(e, "content") ?? " ")[0],
                    e.TryGetProperty("start", out var start) ? start.GetInt32() : 0, e.TryGetProperty("stop", out var stop) ? stop.GetInt32() : 0);
            case "Replace":
                var pattern = reader.Pattern(e, path);
                return pattern is null ? null : new ReplaceDecoder(pattern, ComponentReader.String(e, "content") ?? "", ComponentReader.Literal(e));
            case "Metaspace":
                var replacement = ComponentReader.String(e, "replacement") ?? "▁";
                var scheme = MetaspacePreTokenizer.ReadScheme(e, path, reader);
                return scheme is null ? null : new MetaspaceDecoder(replacement[0], scheme.Value);
            case "Sequence":
                var steps = new List<Decoder>();
                if (e.TryGetProperty("decoders", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var step in list.EnumerateArray())
                        if (Read(step, $"{path}.decoders[{i++}]", reader) is { } d) steps.Add(d);
                }
                else reader.Invalid(path, "Sequence without 'decoders'");
                return new SequenceDecoder(steps);
            default:
                reader.Unsupported(path, $"decoder '{type}' is not supported (ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence are)");
                return null;
        }
    }
}
