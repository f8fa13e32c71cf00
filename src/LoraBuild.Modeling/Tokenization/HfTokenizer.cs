using System.IO.Compression;
using LoraBuild.Diagnostics;
using LoraBuild.Tokenization.PostProcessors;

namespace LoraBuild.Tokenization;

/// <summary>
/// A Hugging Face tokenizer folder: tokenizer.json run component by component as HF tokenizers does
/// (<see cref="TokenizerPipeline"/>) and tokenizer_config.json's special tokens, add_bos_token / add_eos_token and
/// clean_up_tokenization_spaces, with transformers' <c>encode(text, add_special_tokens)</c> and
/// <c>decode(ids, skip_special_tokens)</c>.
/// </summary>
public sealed class HfTokenizer
{
    /// <summary>Tokenizer classes whose fast tokenizer rebuilds the post-processor from add_bos_token / add_eos_token.</summary>
    static readonly HashSet<string> BosEosTemplateClasses = new(StringComparer.Ordinal)
    {
        "LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
    };

    readonly TokenizerPipeline pipeline;
    readonly HashSet<int> specialIds;

    HfTokenizer(TokenizerPipeline pipeline, TokenizerConfig config)
    {
        this.pipeline = pipeline;
        Config = config;
        int? Id(string? token) => token is not null && pipeline.Vocabulary.TryGetValue(token, out var id) ? id : null;
        BosTokenId = Id(config.BosToken);
        EosTokenId = Id(config.EosToken);
        PadTokenId = Id(config.PadToken);
        UnkTokenId = Id(config.UnkToken);

        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in pipeline.AddedTokens.Where(t => t.Special)) special[t.Content] = t.Id;
        foreach (var name in new[] { config.BosToken, config.EosToken, config.PadToken, config.UnkToken }.Concat(config.AdditionalSpecialTokens))
            if (name is not null && Id(name) is { } id) special[name] = id;
        SpecialTokens = special;
        specialIds = special.Values.ToHashSet();

        ApplyBosEosFlags(config);
        var marker = int.MinValue;
        var processed = pipeline.PostProcessor?.Process([marker]) ?? [marker];
        var at = processed.IndexOf(marker);
        PrefixSpecialIds = processed[..at];
        SuffixSpecialIds = processed[(at + 1)..];
    }

    /// <summary>
    /// transformers' LlamaTokenizerFast / GemmaTokenizerFast rebuild the template as "[bos] $A [eos]" from the flags
    /// (defaults true / false); for other classes an explicit add_eos_token / add_bos_token adds what the template lacks.
    /// </summary>
    void ApplyBosEosFlags(TokenizerConfig config)
    {
        var isTemplateClass = config.TokenizerClass is { } cls && BosEosTemplateClasses.Contains(cls);
        if (isTemplateClass)
        {
            var addBos = config.AddBosToken ?? true;
            var addEos = config.AddEosToken ?? false;
            if ((addBos && BosTokenId is null) || (addEos && EosTokenId is null))
                throw new LoraBuildException(ErrorCodes.TokenizerInvalid,
                    $"tokenizer_config.json sets add_{(addBos && BosTokenId is null ? "bos" : "eos")}_token but that token is not in the vocabulary.");
            pipeline.PostProcessor = TemplateProcessing.FromIds(addBos ? [BosTokenId!.Value] : [], addEos ? [EosTokenId!.Value] : []);
            return;
        }
        var probe = pipeline.PostProcessor?.Process([int.MinValue]) ?? [int.MinValue];
        var at = probe.IndexOf(int.MinValue);
        var before = probe[..at];
        var after = probe[(at + 1)..];
        var changed = false;
        if (config.AddBosToken == true && BosTokenId is { } bos && !before.Contains(bos)) { before.Insert(0, bos); changed = true; }
        if (config.AddEosToken == true && EosTokenId is { } eos && !after.Contains(eos)) { after.Add(eos); changed = true; }
        if (changed) pipeline.PostProcessor = TemplateProcessing.FromIds(before, after);
    }

    public TokenizerConfig Config { get; }
    public TokenizerPipeline Pipeline => pipeline;

    /// <summary>Every token string with its id: the model's vocabulary and the added tokens.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary => pipeline.Vocabulary;
    public int VocabularySize => pipeline.VocabularySize;

    public int? EosTokenId { get; }
    public int? BosTokenId { get; }
    public int? PadTokenId { get; }
    public int? UnkTokenId { get; }
    /// <summary>True when encoding with special tokens starts with BOS (the post-processor's template or add_bos_token).</summary>
    public bool AddBosToken => BosTokenId is { } bos && PrefixSpecialIds.Contains(bos);
    /// <summary>What add_special_tokens=True puts before and after the text's ids.</summary>
    public IReadOnlyList<int> PrefixSpecialIds { get; }
    public IReadOnlyList<int> SuffixSpecialIds { get; }
    public long? ModelMaxLength => Config.ModelMaxLength;
    /// <summary>Special tokens: added tokens flagged special and the tokens tokenizer_config.json names.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    public bool IsSpecial(int id) => specialIds.Contains(id);

    /// <summary>Reads tokenizer.json (or tokenizer.json.gz) and tokenizer_config.json (or .gz) from a folder or a tokenizer.json path.</summary>
    public static HfTokenizer Load(string modelDirectory)
    {
        var directory = File.Exists(modelDirectory) ? Path.GetDirectoryName(Path.GetFullPath(modelDirectory))! : modelDirectory;
        var path = File.Exists(modelDirectory) ? modelDirectory : Path.Combine(directory, "tokenizer.json");
        var json = ReadMaybeCompressed(path);
        if (json is null)
        {
            var sentencePiece = Path.Combine(directory, "tokenizer.model");
            if (File.Exists(sentencePiece))
                throw new LoraBuildException(ErrorCodes.TokenizerUnsupported,
                    "only a SentencePiece tokenizer.model is here; LoraBuild reads tokenizer.json (save the tokenizer with transformers' save_pretrained to write one).", sentencePiece);
            throw new LoraBuildException(ErrorCodes.TokenizerMissing, "tokenizer.json is missing.", path);
        }
        var configPath = Path.Combine(directory, "tokenizer_config.json");
        var configJson = ReadMaybeCompressed(configPath);
        return FromJson(json, configJson, path, configPath);
    }

    public static HfTokenizer FromJson(string tokenizerJson, string? configJson, string tokenizerFile = "tokenizer.json", string configFile = "tokenizer_config.json")
    {
        var pipeline = TokenizerPipeline.Read(tokenizerJson, tokenizerFile);
        var config = configJson is null ? new TokenizerConfig() : TokenizerConfig.Read(configJson, configFile);
        return new HfTokenizer(pipeline, config);
    }

    static string? ReadMaybeCompressed(string path)
    {
        if (File.Exists(path)) return File.ReadAllText(path);
        if (!File.Exists(path + ".gz")) return null;
        using var gzip = new GZipStream(File.OpenRead(path + ".gz"), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        return reader.ReadToEnd();
    }

    /// <summary>Ids of the text alone, as <c>tokenizer.encode(text, add_special_tokens=False)</c>.</summary>
    public IReadOnlyList<int> Encode(string text) => pipeline.Encode(text, addSpecialTokens: false);

    /// <summary>As <c>tokenizer.encode(text, add_special_tokens=...)</c>.</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens) => pipeline.Encode(text, addSpecialTokens);

    /// <summary>
    /// The ids a model is given for a raw-text prompt: the special tokens the tokenizer puts before text (BOS for Llama 3
    /// and Gemma), then the text — what <c>tokenizer(prompt)</c> feeds transformers' <c>generate</c>, and exactly what
    /// training puts before a completion. Suffix tokens (an <c>add_eos_token</c> EOS) are left out: nothing follows an
    /// end of sequence. A rendered chat template takes <see cref="Encode(string)"/> instead: it wrote its markers itself.
    /// </summary>
    public IReadOnlyList<int> EncodePrompt(string rawText)
    {
        var text = Encode(rawText);
        if (PrefixSpecialIds.Count == 0) return text;
        var ids = new List<int>(PrefixSpecialIds.Count + text.Count);
        ids.AddRange(PrefixSpecialIds);
        ids.AddRange(text);
        return ids;
    }

    /// <summary>
    /// As <c>tokenizer.decode(ids, skip_special_tokens, clean_up_tokenization_spaces)</c>; skipping defaults to true here
    /// because generated text is shown without markers; the clean-up defaults to tokenizer_config.json's.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true, bool? cleanUpTokenizationSpaces = null)
    {
        var text = pipeline.Decode(ids, skipSpecialTokens ? specialIds.Contains : null);
        return cleanUpTokenizationSpaces ?? Config.CleanUpTokenizationSpaces ? CleanUpTokenizationSpaces(text) : text;
    }

    /// <summary>transformers' clean_up_tokenization: removes the space before punctuation and English contractions.</summary>
    public static string CleanUpTokenizationSpaces(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}
