using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Runtime.Engine;

/// <summary>Temperature sampling restricted to the top-k tokens and then to the top-p nucleus (transformers' order of warpers).</summary>
static class TokenSampler
{
    public static int Sample(Tensor logits, SamplingSettings settings, Generator generator)
    {
        using var scope = NewDisposeScope();
        var scaled = logits.DividedBy(settings.Temperature);
        if (settings.TopK > 0 && settings.TopK < scaled.shape[0])
        {
            var kth = scaled.topk(settings.TopK).values[settings.TopK - 1];
            scaled = scaled.masked_fill(scaled < kth, OwnedScalars.NegativeInfinity);
        }
        var probabilities = scaled.softmax(-1);
        if (settings.TopP < 1.0)
        {
            var (sorted, order) = probabilities.sort(descending: true);
            // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            var outside = sorted.cumsum(0).sub(sorted).AtLeast(settings.TopP);
            var choice = sorted.masked_fill(outside, OwnedScalars.Zero).multinomial(1, generator: generator).item<long>();
            return (int)order[choice].item<long>();
        }
        return (int)probabilities.multinomial(1, generator: generator).item<long>();
    }
}
