using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// Gradient checkpointing for one decoder layer (torch.utils.checkpoint, re-entrant form): forward runs without
/// recording and keeps only the layer's input; backward recomputes the layer with recording on and back-propagates
/// through it, which fills the adapter gradients and yields the input gradient. Dropout draws from a seed saved with
/// the input, so the recomputation sees the masks the forward pass saw.
/// </summary>
public sealed class CheckpointedLayer : autograd.SingleTensorFunction<CheckpointedLayer>
{
    public override string Name => nameof(CheckpointedLayer);

    static long nextSeed = 0x5EED;

    public static Tensor Apply(DecoderLayer layer, Tensor hidden, Tensor cos, Tensor signedSin)
    {
        var output = apply(hidden, cos, signedSin, layer);
        AutogradOutputCache.Release();
        return output;
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (hidden, cos, signedSin, layer) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (DecoderLayer)vars[3]);
        var seed = Interlocked.Increment(ref nextSeed);
        ctx.save_for_backward([hidden, cos, signedSin]);
        ctx.save_data("layer", layer);
        ctx.save_data("seed", seed);
        Seed(seed, hidden.device);
        var output = layer.Forward(hidden, cos, signedSin, null, 0);
        AutogradOutputCache.Prepare(ctx);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // Every handle made here is disposed: TorchSharp wraps these natively owned tensors in managed objects whose
        // finalizers would otherwise hold GPU memory until a garbage collection that GPU pressure never triggers.
        var saved = ctx.get_saved_variables();
        try
        {
            var layer = (DecoderLayer)ctx.get_data("layer");
            Seed((long)ctx.get_data("seed"), saved[0].device);
            using var recording = enable_grad();
            using var input = saved[0].detach().requires_grad_(true);
            using (var output = layer.Forward(input, saved[1], saved[2], null, 0))
                output.backward([gradOutput]);
            using var inputGrad = input.grad!;
            return [inputGrad.detach().clone(), null!, null!, null!];
        }
        finally
        {
            foreach (var t in saved) t.Dispose();
            gradOutput.Dispose();
        }
    }

    /// <summary>
    /// TorchSharp's function nodes keep an empty_like of each output until they are finalised; after a checkpointed
    /// step, collect them so that memory returns to the allocator now rather than at some later garbage collection.
    /// </summary>
    public static void ReleaseFinishedNodes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    static void Seed(long seed, Device device)
    {
        manual_seed(seed);
        if (device.type == DeviceType.CUDA) cuda.manual_seed_all(seed);
    }
}
