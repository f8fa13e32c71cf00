using System.Text.Json;
using LoraBuild.Tokenization.Decoders;
using LoraBuild.Tokenization.Models;
using LoraBuild.Tokenization.Normalizers;
using LoraBuild.Tokenization.PostProcessors;
using LoraBuild.Tokenization.PreTokenizers;

namespace LoraBuild.Tokenization;

/// <summary>
/// One tokenizer.json as HF tokenizers runs it: added tokens split the text, the rest is normalized, pre-tokenized and
/// encoded by the model; the post-processor adds special tokens; decoding maps ids to tokens and runs the decoder chain.
/// </summary>
public sealed class TokenizerPipeline
{
    TokenizerPipeline(Normalizer? normalizer, PreTokenizer? preTokenizer, BpeModel model, PostProcessor? postProcessor, Decoder? decoder,
        IReadOnlyList<AddedToken> addedTokens)
    {
        Normalizer = normalizer;
        PreTokenizer = preTokenizer;
        Model = model;
        PostProcessor = postProcessor;
        Decoder = decoder;
        AddedTokens = addedTokens;
        Added = new AddedVocabulary(addedTokens, normalizer);
        addedById = new Dictionary<int, AddedToken>();
        foreach (var t in addedTokens) addedById.TryAdd(t.Id, t);
        var vocabulary = new Dictionary<string, int>(model.Vocabulary, StringComparer.Ordinal);
        foreach (var t in addedTokens) vocabulary[t.Content] = t.Id;
        Vocabulary = vocabulary;
        VocabularySize = Math.Max(vocabulary.Count, vocabulary.Values.DefaultIfEmpty(-1).Max() + 1);
    }

    readonly Dictionary<int, AddedToken> addedById;

    public Normalizer? Normalizer { get; }
    public PreTokenizer? PreTokenizer { get; }
    public BpeModel Model { get; }
    public PostProcessor? PostProcessor { get; internal set; }
    public Decoder? Decoder { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }
    public AddedVocabulary Added { get; }
    /// <summary>The model's vocabulary and the added tokens.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary { get; }
    /// <summary>One past the largest id (HF's len(tokenizer)).</summary>
    public int VocabularySize { get; }

    public static TokenizerPipeline Read(string json, string file)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        var root = document.RootElement;
        var reader = new ComponentReader(file);
        var normalizer = root.TryGetProperty("normalizer", out var n) ? Normalizer.Read(n, "normalizer", reader) : null;
        var preTokenizer = root.TryGetProperty("pre_tokenizer", out var p) ? PreTokenizer.Read(p, "pre_tokenizer", reader) : null;
        BpeModel? model = null;
        if (root.TryGetProperty("model", out var m)) model = BpeModel.Read(m, "model", reader);
        else reader.Invalid("model", "missing");
        var postProcessor = root.TryGetProperty("post_processor", out var pp) ? PostProcessor.Read(pp, "post_processor", reader) : null;
        var decoder = root.TryGetProperty("decoder", out var d) ? Decoder.Read(d, "decoder", reader) : null;
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var token in list.EnumerateArray())
            {
                if (token.TryGetProperty("id", out _) && token.TryGetProperty("content", out _)) added.Add(AddedToken.Read(token));
                else reader.Invalid($"added_tokens[{i}]", "needs id and content");
                i++;
            }
        }
        if (root.TryGetProperty("truncation", out var truncation) && !ComponentReader.IsNull(truncation))
            reader.Unsupported("truncation", "truncation inside tokenizer.json is not applied; LoraBuild truncates to max_seq_length itself");
        if (root.TryGetProperty("padding", out var padding) && !ComponentReader.IsNull(padding))
            reader.Unsupported("padding", "padding inside tokenizer.json is not applied; LoraBuild pads batches itself");
        reader.ThrowIfProblems();
        return new TokenizerPipeline(normalizer, preTokenizer, model!, postProcessor, decoder, added);
    }

    /// <summary>The ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the post-processor's special tokens too.</summary>
    public List<int> Encode(string text, bool addSpecialTokens)
    {
        var ids = new List<int>();
        var pieces = new List<Piece>();
        var words = new List<Piece>();
        foreach (var section in Added.Split(text, Normalizer))
        {
            if (section.TokenId is { } id)
            {
                ids.Add(id);
                continue;
            }
            if (PreTokenizer is null)
            {
                Model.Encode(section.Text, ids);
                continue;
            }
            pieces.Clear();
            words.Clear();
            pieces.Add(new Piece(section.Text, section.AtStart));
            PreTokenizer.PreTokenize(pieces, words);
            foreach (var word in words) Model.Encode(word.Text, ids);
        }
        return addSpecialTokens && PostProcessor is not null ? PostProcessor.Process(ids) : ids;
    }

    public string? IdToToken(int id) => addedById.TryGetValue(id, out var t) ? t.Content : Model.IdToToken(id);

    public bool IsSpecial(int id) => addedById.TryGetValue(id, out var t) && t.Special;

    /// <summary>Decodes as HF tokenizers' decode: unknown ids are dropped; special added tokens too when asked.</summary>
    public string Decode(IEnumerable<int> ids, Func<int, bool>? skip)
    {
        var tokens = new List<string>();
        foreach (var id in ids)
        {
            if (skip is not null && skip(id)) continue;
            if (IdToToken(id) is { } token) tokens.Add(token);
        }
        return Decoder is null ? string.Join(' ', tokens) : Decoder.Decode(tokens);
    }
}
