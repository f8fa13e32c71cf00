using System.IO.Compression;
using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.Templating;
using LoraBuild.Tokenization;

namespace LoraBuild.Export.Gguf;

/// <summary>
/// The <c>tokenizer.ggml.*</c> keys from an HF tokenizer.json: byte-level BPE becomes llama.cpp's <c>gpt2</c> model with
/// its merges and the pre-tokenizer name whose regex matches; a byte-fallback BPE over ▁-escaped text (what transformers
/// converts SentencePiece models to) becomes the <c>llama</c> (SentencePiece) model with scores and token types.
/// </summary>
public static class GgufTokenizerMetadata
{
    /// <summary>llama.cpp's token types (llama_token_type).</summary>
    enum TokenType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

    /// <summary>The HF pre-tokenizer regexes llama.cpp implements, by the name llama-vocab.cpp knows them under.</summary>
    static readonly (string Name, string Regex)[] PreTokenizers =
    [
        ("qwen2", @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
        ("llama-bpe", @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
        ("gpt-4o", @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
    ];

    /// <param name="modelDirectory">Folder with tokenizer.json (or .gz) and tokenizer_config.json.</param>
    /// <param name="vocabularySize">Rows of the embedding: llama.cpp needs one token per row, so the list is padded.</param>
    public static void Write(GgufMetadata metadata, string modelDirectory, int vocabularySize)
    {
        var tokenizer = HfTokenizer.Load(modelDirectory);
        var path = Path.Combine(modelDirectory, "tokenizer.json");
        using var document = JsonDocument.Parse(ReadText(path));
        var root = document.RootElement;
        var model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE")
            throw new LoraBuildException(ErrorCodes.GgufTokenizerUnsupported,
                $"tokenizer model '{model.GetProperty("type").GetString()}' has no GGUF form here (BPE only).", path);

        var tokens = new string?[vocabularySize];
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) Place(tokens, entry.Value.GetInt32(), entry.Name, path);
        var added = new Dictionary<int, bool>();
        if (root.TryGetProperty("added_tokens", out var addedTokens))
            foreach (var token in addedTokens.EnumerateArray())
            {
                var id = token.GetProperty("id").GetInt32();
                Place(tokens, id, token.GetProperty("content").GetString()!, path);
                added[id] = token.TryGetProperty("special", out var special) && special.GetBoolean();
            }
        var merges = ReadMerges(model);
        var byteFallback = model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True;
        var sentencePiece = byteFallback && Array.IndexOf(tokens, "<0x00>") >= 0;

        var types = new int[vocabularySize];
        var list = new string[vocabularySize];
        for (var id = 0; id < vocabularySize; id++)
        {
            var text = tokens[id];
            list[id] = text ?? $"[PAD{id}]";
            types[id] = (int)(text is null ? TokenType.Unused
                : added.TryGetValue(id, out var isSpecial) ? isSpecial ? TokenType.Control : TokenType.UserDefined
                : id == tokenizer.UnkTokenId ? TokenType.Unknown
                : sentencePiece && IsByteToken(text) ? TokenType.Byte
                : TokenType.Normal);
        }

        if (sentencePiece)
        {
            metadata.String("tokenizer.ggml.model", "llama").String("tokenizer.ggml.pre", "default")
                .Strings("tokenizer.ggml.tokens", list)
                .Float32s("tokenizer.ggml.scores", MergeRankScores(list, merges))
                .Int32s("tokenizer.ggml.token_type", types)
                .Bool("tokenizer.ggml.add_space_prefix", PrependsSpace(root));
        }
        else
        {
            metadata.String("tokenizer.ggml.model", "gpt2").String("tokenizer.ggml.pre", PreTokenizerName(root, path))
                .Strings("tokenizer.ggml.tokens", list)
                .Int32s("tokenizer.ggml.token_type", types)
                .Strings("tokenizer.ggml.merges", merges.Select(m => m.Left + " " + m.Right).ToArray());
        }
        if (tokenizer.BosTokenId is { } bos) metadata.UInt32("tokenizer.ggml.bos_token_id", bos);
        if (tokenizer.EosTokenId is { } eos) metadata.UInt32("tokenizer.ggml.eos_token_id", eos);
        if (tokenizer.UnkTokenId is { } unk) metadata.UInt32("tokenizer.ggml.unknown_token_id", unk);
        if (tokenizer.PadTokenId is { } pad) metadata.UInt32("tokenizer.ggml.padding_token_id", pad);
        // What the tokenizer's post-processor adds is what llama.cpp must add: transformers' encode(text) and llama_tokenize(add_special=true) agree.
        metadata.Bool("tokenizer.ggml.add_bos_token", tokenizer.AddBosToken)
            .Bool("tokenizer.ggml.add_eos_token", tokenizer.EosTokenId is { } e && tokenizer.SuffixSpecialIds.Contains(e));
        if (ChatTemplateSource.Load(modelDirectory).Template is { } template) metadata.String("tokenizer.chat_template", template);
    }

    static void Place(string?[] tokens, int id, string text, string path)
    {
        if (id < 0 || id >= tokens.Length)
            throw new LoraBuildException(ErrorCodes.GgufTokenizerUnsupported,
                $"token '{text}' has id {id}, outside the model's {tokens.Length} embedding rows.", path);
        tokens[id] = text;
    }

    static bool IsByteToken(string text) => text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>';

    static List<(string Left, string Right)> ReadMerges(JsonElement model)
    {
        var merges = new List<(string, string)>();
        if (!model.TryGetProperty("merges", out var list)) return merges;
        foreach (var merge in list.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.Array) merges.Add((merge[0].GetString()!, merge[1].GetString()!));
            else
            {
                var text = merge.GetString()!;
                var space = text.IndexOf(' ');
                merges.Add((text[..space], text[(space + 1)..]));
            }
        }
        return merges;
    }

    /// <summary>
    /// llama.cpp's SentencePiece tokenizer merges the adjacent pair whose result scores highest; HF's BPE applies the
    /// lowest-ranked merge. A token's score is minus the rank of the first merge that makes it; tokens no merge makes
    /// rank below every merge.
    /// </summary>
    static float[] MergeRankScores(string[] tokens, List<(string Left, string Right)> merges)
    {
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < merges.Count; i++) rank.TryAdd(merges[i].Left + merges[i].Right, i);
        return tokens.Select((t, id) => rank.TryGetValue(t, out var r) ? -(float)r : -(float)(merges.Count + id)).ToArray();
    }

    /// <summary>SentencePiece's add_dummy_prefix: a Prepend("▁") normalizer or a Metaspace pre-tokenizer that prepends.</summary>
    static bool PrependsSpace(JsonElement root)
    {
        var text = root.TryGetProperty("normalizer", out var n) ? n.GetRawText() : "";
        var pre = root.TryGetProperty("pre_tokenizer", out var p) ? p.GetRawText() : "";
        return text.Contains("\"Prepend\"") || (pre.Contains("\"Metaspace\"") && !pre.Contains("\"never\""));
    }

    static string PreTokenizerName(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            throw new LoraBuildException(ErrorCodes.GgufTokenizerUnsupported, "a byte-level BPE tokenizer without a pre_tokenizer has no llama.cpp pre-tokenizer.", path);
        var regexes = new List<string>();
        var plainByteLevel = false;
        Collect(pre);
        if (regexes.Count == 0 && plainByteLevel) return "gpt-2";
        if (regexes.Count == 1 && PreTokenizers.FirstOrDefault(p => p.Regex == regexes[0]) is { Name: not null } known) return known.Name;
        throw new LoraBuildException(ErrorCodes.GgufTokenizerUnsupported,
            $"pre-tokenizer {pre.GetRawText()} matches none that llama.cpp implements and LoraBuild maps ({string.Join(", ", PreTokenizers.Select(p => p.Name).Prepend("gpt-2"))}).", path);

        void Collect(JsonElement element)
        {
            switch (element.GetProperty("type").GetString())
            {
                case "Sequence":
                    foreach (var child in element.GetProperty("pretokenizers").EnumerateArray()) Collect(child);
                    break;
                case "Split" when element.GetProperty("pattern").TryGetProperty("Regex", out var regex):
                    regexes.Add(regex.GetString()!);
                    break;
                case "ByteLevel":
                    plainByteLevel |= !element.TryGetProperty("use_regex", out var useRegex) || useRegex.ValueKind == JsonValueKind.True;
                    break;
                default:
                    regexes.Add(element.GetRawText());
                    break;
            }
        }
    }

    static string ReadText(string path)
    {
        if (File.Exists(path)) return File.ReadAllText(path);
        using var gzip = new GZipStream(File.OpenRead(path + ".gz"), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        return reader.ReadToEnd();
    }
}
