using TorchSharp;
using LoraBuild.Native;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;
using static TorchSharp.torch;

namespace LoraBuild.Evaluation;

/// <summary>Evaluation results, as written to metrics.json (names are the gate metric names).</summary>
public sealed record EvalMetrics(double EvalLoss, double Perplexity, double TokenAccuracy, double? ExactMatch, int Examples, int ExactMatchExamples, long PredictedTokens)
{
    /// <summary>The JSON form used by metrics.json and `lorabuild eval`; the keys are the gate metric names.</summary>
    public Dictionary<string, object?> ToJson() => new()
    {
        ["eval_loss"] = EvalLoss,
        ["perplexity"] = Perplexity,
        ["token_accuracy"] = TokenAccuracy,
        ["exact_match"] = ExactMatch,
        ["examples"] = Examples,
        ["exact_match_examples"] = ExactMatchExamples,
        ["predicted_tokens"] = PredictedTokens,
    };
}

/// <summary>One example for exact match: the prompt as training tokenised it, and the text the model should produce.</summary>
public sealed record GenerationCase(int[] PromptIds, string Expected, string Source);

/// <summary>
/// Eval loss (mean token cross-entropy on learned tokens), perplexity, token accuracy (argmax equals the label), and
/// exact match of greedy generation against the expected completion (whitespace-trimmed).
/// </summary>
public static class Evaluator
{
    public static EvalMetrics Evaluate(CausalLM model, IReadOnlyList<TokenizedExample> examples, IReadOnlyList<GenerationCase> cases,
        HfTokenizer tokenizer, IReadOnlySet<int> stopIds, int batchSize, int maxNewTokens, Action<string>? progress = null)
    {
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            double lossSum = 0;
            long predicted = 0, correct = 0;
            var padId = tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var batches = (examples.Count + batchSize - 1) / Math.Max(1, batchSize);
            for (var start = 0; start < examples.Count; start += batchSize)
            {
                if (start / batchSize % Math.Max(1, batches / 10) == 0)
                    progress?.Invoke($"eval loss: {start}/{examples.Count} examples{Eta(clock, start, examples.Count)}");
                using var scope = NewDisposeScope();
                var slice = examples.Skip(start).Take(batchSize).ToList();
                using var batch = BatchPlan.Collate(slice, padId, model.Device);
                var logits = model.Forward(batch.InputIds);
                lossSum += CausalLM.TokenLossSum(logits, batch.Labels).item<float>();
                var length = logits.shape[1];
                var guesses = logits.narrow(1, 0, length - 1).argmax(-1);
                var targets = batch.Labels.narrow(1, 1, length - 1);
                var mask = targets.ne(OwnedScalars.IgnoredLabel);
                predicted += mask.sum().item<long>();
                correct += guesses.eq(targets).logical_and(mask).sum().item<long>();
            }
            var loss = predicted > 0 ? lossSum / predicted : double.NaN;

            double? exactMatch = null;
            if (cases.Count > 0)
            {
                var hits = 0;
                clock.Restart();
                var every = Math.Clamp(cases.Count / 20, 1, 25);
                for (var i = 0; i < cases.Count; i++)
                {
                    var generated = TextGenerator.Generate(model, cases[i].PromptIds, stopIds, new GenerationOptions(maxNewTokens));
                    if (Normalize(tokenizer.Decode(generated)) == Normalize(cases[i].Expected)) hits++;
                    if ((i + 1) % every == 0 || i + 1 == cases.Count)
                        progress?.Invoke($"exact match: {i + 1}/{cases.Count} generated, {hits} correct{Eta(clock, i + 1, cases.Count)}");
                }
                exactMatch = hits / (double)cases.Count;
            }
            return new EvalMetrics(loss, Math.Exp(loss), predicted > 0 ? correct / (double)predicted : double.NaN, exactMatch,
                examples.Count, cases.Count, predicted);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    static string Normalize(string text) => text.Trim();

    static string Eta(System.Diagnostics.Stopwatch clock, int done, int total) =>
        done == 0 || done >= total ? "" : $", eta {TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / done * (total - done)):hh\\:mm\\:ss}";

    /// <summary>
    /// Exact-match cases from encoded examples: the prompt is everything before the final run of learned tokens, exactly
    /// as training tokenised it; the expected text is the completion, or for a chat the last assistant turn as the
    /// template rendered it, decoded as generated text is (special tokens skipped). Text-only examples and examples
    /// truncated into their answer have no case.
    /// </summary>
    public static IReadOnlyList<GenerationCase> Cases(IReadOnlyList<RawExample> raw, IReadOnlyList<TokenizedExample> encoded, HfTokenizer tokenizer, int maxLength)
    {
        var cases = new List<GenerationCase>();
        for (var i = 0; i < raw.Count; i++)
        {
            var format = raw[i].Format;
            var isChat = format == ExampleFormat.Chat && raw[i].Messages![^1].Role == "assistant";
            if (!isChat && format is not (ExampleFormat.PromptCompletion or ExampleFormat.Alpaca)) continue;
            var example = encoded[i];
            if (example.Length >= maxLength) continue;
            var end = example.Labels.Length;
            var start = end;
            while (start > 0 && example.Labels[start - 1] != TokenizedExample.Ignore) start--;
            if (start == 0 || start == end) continue;
            var expected = isChat ? tokenizer.Decode(example.InputIds[start..end]) : raw[i].Completion!;
            cases.Add(new GenerationCase(example.InputIds[..start], expected, example.Source));
        }
        return cases;
    }
}
