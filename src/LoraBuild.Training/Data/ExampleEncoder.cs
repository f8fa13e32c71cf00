using LoraBuild.Tokenization;

namespace LoraBuild.Training.Data;

/// <summary>Token ids and their labels; a label of -100 is not learned (prompt tokens, padding).</summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels, string Source)
{
    public const int Ignore = -100;
    public int Length => InputIds.Length;
    public int TrainableTokens => Labels.Count(l => l != Ignore);
}

/// <summary>What the data pipeline did, for the log: nothing is dropped silently.</summary>
public sealed record EncodingReport(int Examples, int Truncated, int LongestTokens, long Tokens, long TrainableTokens);

/// <summary>
/// Turns parsed examples into tokens with loss masks: text is learned whole; for prompt/completion and alpaca only the
/// completion (and the end-of-sequence token that teaches stopping), prompt and completion tokenised separately so their
/// boundary never merges into one token; for chat only assistant turns, rendered by the model's chat template.
/// </summary>
public sealed class ExampleEncoder
{
    readonly HfTokenizer tokenizer;
    readonly ChatTemplate chat;
    readonly int maxLength;

    public ExampleEncoder(HfTokenizer tokenizer, ChatTemplate chat, int maxLength)
    {
        this.tokenizer = tokenizer;
        this.chat = chat;
        this.maxLength = maxLength;
    }

    public ChatTemplate Chat => chat;

    /// <summary>Axolotl train_on_inputs: prompt tokens are learned too.</summary>
    public bool TrainOnInputs { get; init; }

    /// <summary>The end-of-sequence token learned after a completion (special_tokens: eos_token may choose it).</summary>
    public int? EosTokenId { get; init; } = null;

    int? Eos => EosTokenId ?? tokenizer.EosTokenId;

    /// <summary>The settings that decide the tokens besides the data and the tokenizer files (part of the cache key).</summary>
    public string Settings => $"{chat.Name}|{maxLength}|{TrainOnInputs}|{Eos}";

    /// <summary>Every example in memory (evaluation sets, tests); a run's training data goes through <see cref="EncodeInto"/>.</summary>
    public (IReadOnlyList<TokenizedExample> Examples, EncodingReport Report) EncodeAll(IEnumerable<RawExample> raw)
    {
        var result = new List<TokenizedExample>();
        var tally = new EncodingTally();
        foreach (var piece in raw.SelectMany(Pieces))
        {
            var (encoded, originalLength) = Truncated(piece);
            tally.Add(originalLength, encoded.Length, encoded.TrainableTokens);
            result.Add(encoded);
        }
        return (result, tally.Report);
    }

    /// <summary>
    /// Tokenises a stream of examples into <paramref name="store"/> as they arrive, each piece with the ordinal of the row
    /// it came from; returns how many rows were read. <paramref name="progress"/> hears the row count now and then.
    /// </summary>
    public int EncodeInto(IEnumerable<RawExample> raw, TokenizedStoreWriter store, Action<int>? progress = null)
    {
        var row = 0;
        foreach (var example in raw)
        {
            foreach (var piece in Pieces(example))
            {
                var (encoded, originalLength) = Truncated(piece);
                store.Add(encoded, row, originalLength);
            }
            row++;
            if (row % 10_000 == 0) progress?.Invoke(row);
        }
        return row;
    }

    (TokenizedExample Example, int OriginalLength) Truncated(TokenizedExample encoded) =>
        encoded.Length <= maxLength ? (encoded, encoded.Length)
        : (encoded with { InputIds = encoded.InputIds[..maxLength], Labels = encoded.Labels[..maxLength] }, encoded.Length);

    /// <summary>An example's encoding, cut into sequence_len pieces when it is a completion text (as Axolotl cuts it).</summary>
    IEnumerable<TokenizedExample> Pieces(RawExample example)
    {
        var encoded = Encode(example);
        if (!example.SplitLongText || encoded.Length <= maxLength)
        {
            yield return encoded;
            yield break;
        }
        for (var start = 0; start < encoded.Length; start += maxLength)
        {
            var end = Math.Min(encoded.Length, start + maxLength);
            yield return encoded with { InputIds = encoded.InputIds[start..end], Labels = encoded.Labels[start..end] };
        }
    }

    public TokenizedExample Encode(RawExample example)
    {
        if (example.Format == ExampleFormat.Segments) return EncodeSegments(example);
        if (example.Format == ExampleFormat.Chat) return EncodeChat(example, $"{example.File}:{example.Line}");
        var ids = new List<int>();
        var labels = new List<int>();
        void Add(IEnumerable<int> tokens, bool trainable)
        {
            foreach (var t in tokens)
            {
                ids.Add(t);
                labels.Add(trainable ? t : TokenizedExample.Ignore);
            }
        }

        // Text and prompt/completion get the special tokens the tokenizer itself adds (transformers' add_special_tokens:
        // Llama 2/3 and Gemma BOS, a template's EOS); chat templates write their own markers into the text. A prompt is
        // encoded by the one rule generation and the runtime use (HfTokenizer.EncodePrompt), so all three agree.
        switch (example.Format)
        {
            case ExampleFormat.Text:
                Add(tokenizer.PrefixSpecialIds, false);
                Add(tokenizer.Encode(example.Text!), true);
                break;
            case ExampleFormat.PromptCompletion:
            case ExampleFormat.Alpaca:
                Add(tokenizer.EncodePrompt(example.Prompt!), TrainOnInputs);
                Add(tokenizer.Encode(example.Completion!), true);
                break;
        }
        Add(tokenizer.SuffixSpecialIds, true);
        // The end-of-sequence token is learned so the model learns to stop (docs/training.md), once.
        if (Eos is { } eos && (ids.Count == 0 || ids[^1] != eos)) Add([eos], true);
        return new TokenizedExample(ids.ToArray(), labels.ToArray(), Where(example));
    }

    static string Where(RawExample example) => example.Location?.ToString() ?? $"{example.File}:{example.Line}";

    /// <summary>input_output: each segment tokenised on its own, no special tokens added, learned when labelled (input_output.py).</summary>
    TokenizedExample EncodeSegments(RawExample example)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        foreach (var segment in example.Segments!)
            foreach (var t in tokenizer.Encode(segment.Text))
            {
                ids.Add(t);
                labels.Add(segment.Label || TrainOnInputs ? t : TokenizedExample.Ignore);
            }
        return new TokenizedExample(ids.ToArray(), labels.ToArray(), Where(example));
    }

    /// <summary>
    /// A chat: the model's template renders the whole conversation, which is tokenised as one text without added
    /// special tokens (as apply_chat_template(tokenize=True) does: the template writes BOS and end-of-turn markers itself);
    /// the tokens of the assistant spans are learned.
    /// </summary>
    TokenizedExample EncodeChat(RawExample example, string source)
    {
        var rendered = chat.RenderForTraining(example.Messages!, source);
        var (ids, labels) = SpanLabels.Label(rendered.Text, rendered.AssistantSpans, text => tokenizer.Encode(text));
        return new TokenizedExample(ids, labels, source);
    }

    /// <summary>
    /// Sample packing: examples concatenated in order into sequences of exactly <paramref name="length"/> tokens (the last
    /// may be shorter). Attention crosses example boundaries, as in common packing implementations; labels keep their masks.
    /// </summary>
    public static IReadOnlyList<TokenizedExample> Pack(IReadOnlyList<TokenizedExample> examples, int length) => PackStream(examples, length).ToList();

    /// <summary><see cref="Pack"/> lazily, one packed sequence at a time (a run writes them to a store).</summary>
    public static IEnumerable<TokenizedExample> PackStream(IEnumerable<TokenizedExample> examples, int length)
    {
        var ids = new List<int>(length);
        var labels = new List<int>(length);
        string? first = null;
        foreach (var example in examples)
        {
            first ??= example.Source;
            for (var i = 0; i < example.Length; i++)
            {
                ids.Add(example.InputIds[i]);
                labels.Add(example.Labels[i]);
                if (ids.Count == length)
                {
                    yield return new TokenizedExample(ids.ToArray(), labels.ToArray(), first);
                    ids.Clear();
                    labels.Clear();
                    first = example.Source;
                }
            }
        }
        if (ids.Count > 1) yield return new TokenizedExample(ids.ToArray(), labels.ToArray(), first!);
    }
}
