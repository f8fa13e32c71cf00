using static TorchSharp.torch;

namespace LoraBuild.Training.Data;

/// <summary>Input ids and labels of one micro-batch, right-padded to its longest example.</summary>
public sealed record Batch(Tensor InputIds, Tensor Labels, long Tokens, long PredictedTokens) : IDisposable
{
    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Which examples each optimizer step sees: every epoch is a seeded permutation, an optimizer step takes
/// <c>accumulation</c> consecutive micro-batches. Everything derives from (seed, step), so a resumed run sees exactly
/// the batches an uninterrupted one would.
/// </summary>
public sealed class BatchPlan
{
    readonly int count;
    readonly int microBatchSize;
    readonly int accumulation;
    readonly int seed;
    readonly Dictionary<int, int[]> permutations = new();

    public BatchPlan(int exampleCount, int microBatchSize, int accumulation, int seed)
    {
        count = exampleCount;
        this.microBatchSize = microBatchSize;
        this.accumulation = accumulation;
        this.seed = seed;
    }

    public int MicroBatchesPerEpoch => (count + microBatchSize - 1) / microBatchSize;
    public double StepsPerEpoch => MicroBatchesPerEpoch / (double)accumulation;

    /// <summary>Example indices of each micro-batch of optimizer step <paramref name="step"/> (0-based).</summary>
    public IEnumerable<int[]> MicroBatches(long step)
    {
        for (var k = 0; k < accumulation; k++)
        {
            var micro = step * accumulation + k;
            var epoch = (int)(micro / MicroBatchesPerEpoch);
            var within = (int)(micro % MicroBatchesPerEpoch);
            var order = Permutation(epoch);
            var start = within * microBatchSize;
            yield return order[start..Math.Min(count, start + microBatchSize)];
        }
    }

    public double EpochAt(long step) => step * accumulation / (double)MicroBatchesPerEpoch;

    int[] Permutation(int epoch)
    {
        if (permutations.TryGetValue(epoch, out var cached)) return cached;
        // System.Random with a seed is the same sequence on every .NET version and platform.
        var random = new Random(unchecked(seed * 1_000_003 + epoch));
        var order = Enumerable.Range(0, count).ToArray();
        random.Shuffle(order);
        if (permutations.Count > 4) permutations.Clear();
        return permutations[epoch] = order;
    }

    public static Batch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device)
    {
        var length = examples.Max(e => e.Length);
        var ids = new long[examples.Count * length];
        var labels = new long[examples.Count * length];
        Array.Fill(ids, padId);
        Array.Fill(labels, TokenizedExample.Ignore);
        long tokens = 0, predicted = 0;
        for (var b = 0; b < examples.Count; b++)
        {
            var e = examples[b];
            for (var t = 0; t < e.Length; t++)
            {
                ids[b * length + t] = e.InputIds[t];
                labels[b * length + t] = e.Labels[t];
                if (t > 0 && e.Labels[t] != TokenizedExample.Ignore) predicted++;
            }
            tokens += e.Length;
        }
        return new Batch(tensor(ids, [examples.Count, length]).to(device), tensor(labels, [examples.Count, length]).to(device), tokens, predicted);
    }
}
