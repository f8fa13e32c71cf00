using System.Runtime.CompilerServices;
using LoraBuild.Tokenization;

namespace LoraBuild.Runtime.Engine;

/// <summary>
/// Token ids from the engine as text deltas. The text so far is decoded whole each token (so multi-token characters and
/// merged spaces come out as the tokenizer decodes them), and text is held back while it ends in an incomplete UTF-8
/// sequence or in the beginning of a stop sequence. A stop sequence ends the request (its text is not returned).
/// </summary>
static class TextCompletion
{
    public static async IAsyncEnumerable<CompletionUpdate> StreamAsync(GenerationEngine engine, HfTokenizer tokenizer, string adapter,
        IReadOnlyList<int> promptIds, SamplingSettings settings, IReadOnlyList<string> stopSequences,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The engine request is cancelled by the caller, or by us when a stop sequence appears.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var handle = engine.Submit(adapter, promptIds, settings, stop.Token);
        var ids = new List<int>();
        var emitted = 0;
        var stoppedBySequence = false;
        try
        {
        await foreach (var id in handle.Tokens.ReadAllAsync(CancellationToken.None))
        {
            ids.Add(id);
            var text = tokenizer.Decode(ids);
            var (end, hit) = Visible(text, stopSequences);
            if (end > emitted)
            {
                yield return new CompletionUpdate(text[emitted..end]);
                emitted = end;
            }
            if (hit)
            {
                stoppedBySequence = true;
                stop.Cancel();
                break;
            }
        }
        var result = await handle.Completion.ConfigureAwait(false);
        if (stoppedBySequence)
            result = result with { FinishReason = GenerationFinishReason.Stop, OutputTokens = ids.Count };
        else
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Whatever was held back (an incomplete character at the very end) is released at the end.
            var text = tokenizer.Decode(ids);
            if (text.Length > emitted) yield return new CompletionUpdate(text[emitted..]);
        }
        yield return new CompletionUpdate("", result);
        }
        finally
        {
            // A caller that stops reading early (an error, a disconnected client) must not leave the request decoding.
            if (!handle.Completion.IsCompleted) stop.Cancel();
        }
    }

    /// <summary>How much of <paramref name="text"/> may be shown, and whether a stop sequence was reached.</summary>
    internal static (int End, bool StopHit) Visible(string text, IReadOnlyList<string> stopSequences)
    {
        var cut = -1;
        foreach (var s in stopSequences)
        {
            if (s.Length == 0) continue;
            var at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) return (cut, true);
        var end = text.Length;
        while (end > 0 && text[end - 1] == '\uFFFD') end--;
        foreach (var s in stopSequences)
            for (var k = Math.Min(s.Length - 1, end); k > 0; k--)
                if (string.CompareOrdinal(text, end - k, s, 0, k) == 0)
                {
                    end -= k;
                    break;
                }
        return (end, false);
    }
}
