using LoraBuild.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Training;

/// <summary>
/// AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias correction, non-fused), on float32 state.
/// When every parameter is float32 on one device (LoRA, DoRA, full fine-tuning on CPU) the parameters and their
/// gradients are re-pointed into two flat buffers, so an update, a gradient norm or a zeroing is a handful of kernels
/// however many tensors an adapter has (hundreds), instead of a dozen launches per tensor.
/// With <c>paged</c> the moment estimates live in host memory and visit the device only for the update, so a CUDA
/// run keeps optimizer state off the GPU (the role of bitsandbytes' paged optimizers).
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly IReadOnlyList<Parameter> parameters;
    readonly double beta1, beta2, epsilon, weightDecay;
    readonly bool paged;
    readonly Tensor flatParameters;
    readonly Tensor flatGradients;
    readonly Tensor expAvg;
    readonly Tensor expAvgSq;
    readonly long[] offsets;
    readonly IntPtr flatGradientsAddress;

    public AdamW(IReadOnlyList<Parameter> parameters, double beta1, double beta2, double epsilon, double weightDecay, bool paged)
    {
        if (parameters.Count == 0) throw new ArgumentException("Nothing to optimise.", nameof(parameters));
        var device = parameters[0].device;
        if (parameters.Any(p => p.dtype != ScalarType.Float32 || p.device.type != device.type || p.device.index != device.index))
            throw new ArgumentException("AdamW keeps float32 master values: every trainable tensor must be float32 on one device.", nameof(parameters));
        this.parameters = parameters;
        (this.beta1, this.beta2, this.epsilon, this.weightDecay, this.paged) = (beta1, beta2, epsilon, weightDecay, paged);

        offsets = new long[parameters.Count + 1];
        for (var i = 0; i < parameters.Count; i++) offsets[i + 1] = offsets[i] + parameters[i].numel();
        var total = offsets[^1];
        flatParameters = empty(total, ScalarType.Float32, device);
        flatGradients = zeros(total, ScalarType.Float32, device);
        using (var storage = flatGradients.storage<float>()) flatGradientsAddress = storage.data_ptr();
        using (no_grad())
        {
            for (var i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                using var slot = Slot(flatParameters, i);
                slot.copy_(p);
                p.set_(slot);
                p.grad = Slot(flatGradients, i);
            }
        }
        var stateDevice = paged && device.type == DeviceType.CUDA ? CPU : device;
        expAvg = zeros(total, ScalarType.Float32, stateDevice);
        expAvgSq = zeros(total, ScalarType.Float32, stateDevice);
    }

    public long Step { get; private set; }

    Tensor Slot(Tensor flat, int index) => flat.narrow(0, offsets[index], offsets[index + 1] - offsets[index]).view(parameters[index].shape);

    public void ZeroGrad()
    {
        SyncGradients();
        flatGradients.zero_();
    }

    /// <summary>Global L2 norm of the gradients, scaled down to <paramref name="maxNorm"/> when above it (clip_grad_norm_).</summary>
    public double ClipGradients(double maxNorm)
    {
        SyncGradients();
        using var norm = flatGradients.norm(2.0f);
        var total = norm.item<float>();
        var coefficient = maxNorm / (total + 1e-6);
        if (coefficient < 1) flatGradients.TimesInPlace(coefficient);
        return total;
    }

    /// <summary>
    /// fp16 loss scaling (GradScaler.unscale_): whether every gradient is finite, checked before they are multiplied by
    /// <paramref name="inverseScale"/> in float32 (as torch's _amp_foreach_non_finite_check_and_unscale_ does).
    /// </summary>
    public bool UnscaleGradients(float inverseScale)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        SyncGradients();
        var allFinite = flatGradients.isfinite().all().item<bool>();
        using var factor = inverseScale.ToScalar();
        flatGradients.mul_(factor);
        return allFinite;
    }

    public void Update(double learningRate)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        SyncGradients();
        Step++;
        var biasCorrection1 = 1 - Math.Pow(beta1, Step);
        var biasCorrection2 = 1 - Math.Pow(beta2, Step);
        var stepSize = learningRate / biasCorrection1;
        var m = paged ? expAvg.to(flatParameters.device) : expAvg;
        var v = paged ? expAvgSq.to(flatParameters.device) : expAvgSq;
        // Every number handed to libtorch is an owned Scalar, alive until the kernel that reads it returns (docs/native.md).
        using var decay = (1 - learningRate * weightDecay).ToScalar();
        using var beta1Scalar = beta1.ToScalar();
        using var oneMinusBeta1 = (1 - beta1).ToScalar();
        using var beta2Scalar = beta2.ToScalar();
        using var oneMinusBeta2 = (1 - beta2).ToScalar();
        using var epsilonScalar = epsilon.ToScalar();
        using var negativeStep = (-stepSize).ToScalar();
        if (weightDecay != 0) flatParameters.mul_(decay);
        m.mul_(beta1Scalar).add_(flatGradients, alpha: oneMinusBeta1);
        v.mul_(beta2Scalar).addcmul_(flatGradients, flatGradients, value: oneMinusBeta2);
        var denominator = v.sqrt().DividedBy(Math.Sqrt(biasCorrection2)).add_(epsilonScalar, OwnedScalars.One);
        flatParameters.addcdiv_(m, denominator, value: negativeStep);
        if (paged)
        {
            expAvg.copy_(m);
            expAvgSq.copy_(v);
        }
    }

    /// <summary>
    /// Backward accumulates into the .grad views in place; a parameter whose .grad is missing or was replaced by a tensor
    /// of its own gets its view back (with that tensor's values folded in).
    /// </summary>
    void SyncGradients()
    {
        using var _ = no_grad();
        for (var i = 0; i < parameters.Count; i++)
        {
            var g = parameters[i].grad;
            if (g is not null && IsSlot(g, i)) continue;
            if (g is not null) Slot(flatGradients, i).copy_(g);
            parameters[i].grad = Slot(flatGradients, i);
        }
    }

    bool IsSlot(Tensor gradient, int index)
    {
        using var storage = gradient.storage<float>();
        return storage.data_ptr() == flatGradientsAddress && gradient.storage_offset() == offsets[index];
    }

    /// <summary>Optimizer state for checkpoints: moments by parameter index.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State()
    {
        for (var i = 0; i < parameters.Count; i++)
        {
            yield return KeyValuePair.Create($"exp_avg.{i}", Slot(expAvg, i));
            yield return KeyValuePair.Create($"exp_avg_sq.{i}", Slot(expAvgSq, i));
        }
    }

    public void LoadState(Func<string, Tensor> read, long step)
    {
        using var _ = no_grad();
        for (var i = 0; i < parameters.Count; i++)
        {
            using var m = read($"exp_avg.{i}");
            using var v = read($"exp_avg_sq.{i}");
            using var mSlot = Slot(expAvg, i);
            using var vSlot = Slot(expAvgSq, i);
            mSlot.copy_(m);
            vSlot.copy_(v);
        }
        Step = step;
    }

    public void Dispose()
    {
        expAvg.Dispose();
        expAvgSq.Dispose();
    }
}
