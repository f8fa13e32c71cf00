using System.Text.Json;
using System.Text.RegularExpressions;
using LoraBuild.Diagnostics;
using Microsoft.ML.Tokenizers;

namespace LoraBuild.Tokenization;

/// <summary>
/// An HF <c>tokenizer.json</c> with a byte-level BPE model (GPT-2, Llama 3, Qwen2 style), on Microsoft.ML.Tokenizers'
/// BPE. Added (special) tokens are matched before pre-tokenisation, as HF tokenizers do; <see cref="Decode"/> skips
/// special tokens by default, as <c>tokenizer.decode(ids, skip_special_tokens=True)</c>.
/// </summary>
public sealed class HfTokenizer
{
    /// <summary>GPT-2's pre-tokenisation pattern, used by the ByteLevel pre-tokenizer when use_regex is true.</summary>
    const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    readonly Tokenizer tokenizer;
    readonly Dictionary<string, int> specialTokens;
    readonly HashSet<int> specialIds;

    HfTokenizer(Tokenizer tokenizer, Dictionary<string, int> specialTokens, Dictionary<string, int> vocabulary)
    {
        this.tokenizer = tokenizer;
        this.specialTokens = specialTokens;
        specialIds = specialTokens.Values.ToHashSet();
        Vocabulary = vocabulary;
    }

    public IReadOnlyDictionary<string, int> Vocabulary { get; }

    /// <summary>From tokenizer_config.json when present: end-of-sequence and padding tokens, chat template.</summary>
    public int? EosTokenId { get; private init; }
    public int? BosTokenId { get; private init; }
    public int? PadTokenId { get; private init; }
    public bool AddBosToken { get; private init; }
    public string? ChatTemplate { get; private init; }
    public IReadOnlyDictionary<string, int> SpecialTokens => specialTokens;
    public int VocabularySize => Vocabulary.Count;

    public static HfTokenizer Load(string modelDirectory)
    {
        var path = File.Exists(modelDirectory) ? modelDirectory : Path.Combine(modelDirectory, "tokenizer.json");
        if (!File.Exists(path))
            throw new LoraBuildException(ErrorCodes.TokenizerMissing, "tokenizer.json is missing.", path);
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        LoraBuildException Unsupported(string what) => new(ErrorCodes.TokenizerUnsupported, what, path);

        var model = root.GetProperty("model");
        if (model.GetProperty("type").GetString() != "BPE") throw Unsupported($"tokenizer model '{model.GetProperty("type").GetString()}' is not supported (BPE only).");
        if (model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True)
            throw Unsupported("SentencePiece-style BPE with byte_fallback is not supported yet; byte-level BPE is.");
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            throw Unsupported($"normalizer '{normalizer.GetProperty("type").GetString()}' is not supported.");

        var pattern = PreTokenizerPattern(root.GetProperty("pre_tokenizer"), Unsupported);
        var vocabulary = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32(), StringComparer.Ordinal);
        var merges = model.GetProperty("merges").EnumerateArray().Select(m => m.ValueKind == JsonValueKind.Array
            ? string.Join(' ', m.EnumerateArray().Select(x => x.GetString()))
            : m.GetString()!).ToList();

        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var added))
            foreach (var token in added.EnumerateArray())
                special[token.GetProperty("content").GetString()!] = token.GetProperty("id").GetInt32();

        var options = new BpeOptions(vocabulary.Where(v => !special.ContainsKey(v.Key)))
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = special,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), special),
        };
        var result = new HfTokenizer(BpeTokenizer.Create(options), special, vocabulary);
        var configPath = Path.Combine(Path.GetDirectoryName(path)!, "tokenizer_config.json");
        if (!File.Exists(configPath)) return result;
        using var config = JsonDocument.Parse(File.ReadAllText(configPath));
        int? Id(string key) => config.RootElement.TryGetProperty(key, out var v)
            ? v.ValueKind switch
            {
                JsonValueKind.String => vocabulary.TryGetValue(v.GetString()!, out var id) ? id : null,
                JsonValueKind.Object when v.TryGetProperty("content", out var c) => vocabulary.TryGetValue(c.GetString()!, out var id) ? id : null,
                _ => null,
            }
            : null;
        return new HfTokenizer(result.tokenizer, special, vocabulary)
        {
            EosTokenId = Id("eos_token"),
            BosTokenId = Id("bos_token"),
            PadTokenId = Id("pad_token"),
            AddBosToken = config.RootElement.TryGetProperty("add_bos_token", out var add) && add.ValueKind == JsonValueKind.True,
            ChatTemplate = config.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null,
        };
    }

    static string PreTokenizerPattern(JsonElement preTokenizer, Func<string, LoraBuildException> unsupported)
    {
        var type = preTokenizer.GetProperty("type").GetString();
        switch (type)
        {
            case "ByteLevel":
                if (preTokenizer.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True)
                    throw unsupported("ByteLevel add_prefix_space=true is not supported.");
                return Gpt2Pattern;
            case "Sequence":
                // Llama 3 / Qwen2: Split(regex, Isolated) then ByteLevel(use_regex=false).
                var steps = preTokenizer.GetProperty("pretokenizers").EnumerateArray().ToList();
                var split = steps.FirstOrDefault(s => s.GetProperty("type").GetString() == "Split");
                if (steps.Count == 2 && split.ValueKind == JsonValueKind.Object && split.GetProperty("pattern").TryGetProperty("Regex", out var regex) &&
                    steps[1].GetProperty("type").GetString() == "ByteLevel")
                    return regex.GetString()!;
                throw unsupported("this pre_tokenizer sequence is not supported (Split regex + ByteLevel is).");
            default:
                throw unsupported($"pre_tokenizer '{type}' is not supported (ByteLevel or Split+ByteLevel).");
        }
    }

    public IReadOnlyList<int> Encode(string text) =>
        text.Length == 0 ? Array.Empty<int>() : tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: false);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        tokenizer.Decode(skipSpecialTokens ? ids.Where(i => !specialIds.Contains(i)) : ids) ?? "";
}
