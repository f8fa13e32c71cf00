using LoraBuild.Native;
using LoraBuild.Models;
using static TorchSharp.torch;

namespace LoraBuild.Generation;

/// <summary>Greedy when <see cref="Temperature"/> is 0; otherwise temperature sampling restricted to the top-p nucleus.</summary>
public sealed record GenerationOptions(int MaxNewTokens = 64, double Temperature = 0, double TopP = 1.0, long Seed = 0);

/// <summary>
/// Autoregressive decoding with a key/value cache: the prompt is run once (prefill), then one token per step.
/// Stops at any of the stop ids (end of sequence) or after MaxNewTokens. The active adapters of the model apply.
/// </summary>
public static class TextGenerator
{
    /// <param name="onToken">Called with each token as it is chosen (time to first token, streaming).</param>
    public static IReadOnlyList<int> Generate(CausalLM model, IReadOnlyList<int> prompt, IReadOnlySet<int> stopIds, GenerationOptions options, Action<int>? onToken = null)
    {
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var cache = new KeyValueCache(model.Config.NumHiddenLayers);
            using var generator = options.Temperature > 0 ? new TorchSharp.torch.Generator((ulong)options.Seed, model.Device) : null;
            var output = new List<int>();
            using var scope = NewDisposeScope();
            var input = tensor(prompt.Select(i => (long)i).ToArray(), [1, prompt.Count]).to(model.Device);
            for (var step = 0; step < options.MaxNewTokens; step++)
            {
                using var stepScope = NewDisposeScope();
                var logits = model.ForwardLast(input, cache).select(0, 0).to_type(ScalarType.Float32);
                var next = options.Temperature > 0 ? Sample(logits, options, generator!) : (int)logits.argmax().item<long>();
                if (stopIds.Contains(next)) break;
                output.Add(next);
                onToken?.Invoke(next);
                input = tensor(new long[] { next }, [1, 1]).to(model.Device).MoveToOuterDisposeScope();
            }
            return output;
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    static int Sample(Tensor logits, GenerationOptions options, TorchSharp.torch.Generator generator)
    {
        var probabilities = logits.DividedBy(options.Temperature).softmax(-1);
        if (options.TopP < 1.0)
        {
            var (sorted, order) = probabilities.sort(descending: true);
            var cumulative = sorted.cumsum(0);
            // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            var outside = cumulative.sub(sorted).AtLeast(options.TopP);
            sorted = sorted.masked_fill(outside, OwnedScalars.Zero);
            var choice = sorted.multinomial(1, generator: generator).item<long>();
            return (int)order[choice].item<long>();
        }
        return (int)probabilities.multinomial(1, generator: generator).item<long>();
    }
}
