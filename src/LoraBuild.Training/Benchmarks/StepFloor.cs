using System.Diagnostics;
using LoraBuild.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Benchmarks;

/// <summary>
/// libtorch's own time for the work no LoRA training step can avoid: every frozen base GEMM forward and its
/// input-gradient GEMM in backward (output head included), and scaled-dot-product attention forward and backward.
/// Each distinct shape is timed on its own and multiplied by how often a step runs it. A step's time above this floor
/// is elementwise work, casts, the loss, the optimizer and launch overhead; the adapters' own rank-r GEMMs are left out.
/// </summary>
public sealed record StepFloor(double GemmMilliseconds, double AttentionMilliseconds, double GemmTeraflop, double GemmTeraflopsPerSecond)
{
    public double Milliseconds => GemmMilliseconds + AttentionMilliseconds;

    public static StepFloor Measure(ModelConfig config, int batch, int sequence, Device device, ScalarType dtype, int repeats = 5)
    {
        long tokens = (long)batch * sequence;
        long hidden = config.HiddenSize, q = config.NumAttentionHeads * config.HeadDim, kv = config.NumKeyValueHeads * config.HeadDim;
        var perLayer = new (long In, long Out)[]
        {
            (hidden, q), (hidden, kv), (hidden, kv), (q, hidden),
            (hidden, config.IntermediateSize), (hidden, config.IntermediateSize), (config.IntermediateSize, hidden),
        };
        var counts = perLayer.Select(s => (Shape: s, Count: (long)config.NumHiddenLayers))
            .Append(((hidden, (long)config.VocabSize), 1L))
            .GroupBy(s => s.Item1).Select(g => (Shape: g.Key, Count: g.Sum(s => s.Item2)));

        double gemmMs = 0, flop = 0;
        foreach (var ((input, output), count) in counts)
        {
            using var scope = NewDisposeScope();
            var x = randn(tokens, input, dtype: dtype, device: device);
            var w = randn(output, input, dtype: dtype, device: device);
            var g = randn(tokens, output, dtype: dtype, device: device);
            // Forward x·Wᵀ and the input gradient g·W, as a frozen linear layer's forward and backward run them.
            gemmMs += count * Time(device, repeats, () => { x.matmul(w.t()).Dispose(); g.matmul(w).Dispose(); });
            flop += count * 2.0 * 2 * tokens * input * output;
        }

        double attentionMs;
        using (var scope = NewDisposeScope())
        {
            var shape = new long[] { batch, config.NumAttentionHeads, sequence, config.HeadDim };
            var query = randn(shape, dtype: dtype, device: device).requires_grad_(true);
            var key = randn(shape, dtype: dtype, device: device).requires_grad_(true);
            var value = randn(shape, dtype: dtype, device: device).requires_grad_(true);
            var upstream = randn(shape, dtype: dtype, device: device);
            attentionMs = config.NumHiddenLayers * Time(device, repeats, () =>
            {
                using var inner = NewDisposeScope();
                var output = F.scaled_dot_product_attention(query, key, value, is_casual: true);
                autograd.grad([output], [query, key, value], [upstream]);
            });
        }
        return new StepFloor(gemmMs, attentionMs, flop / 1e12, flop / 1e12 / (gemmMs / 1000));
    }

    /// <summary>Milliseconds per call after one warm-up call.</summary>
    static double Time(Device device, int repeats, Action work)
    {
        work();
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < repeats; i++) work();
        Synchronize(device);
        return clock.Elapsed.TotalMilliseconds / repeats;
    }

    internal static void Synchronize(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }
}
