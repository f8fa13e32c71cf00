using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Training;

/// <summary>
/// AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias correction, non-fused), on float32 state.
/// With <c>paged</c> the moment estimates live in host memory and visit the device only for the update, so a
/// CUDA run keeps optimizer state off the GPU (the role of bitsandbytes' paged optimizers).
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly IReadOnlyList<Parameter> parameters;
    readonly Tensor[] expAvg;
    readonly Tensor[] expAvgSq;
    readonly double beta1, beta2, epsilon, weightDecay;
    readonly bool paged;

    public AdamW(IReadOnlyList<Parameter> parameters, double beta1, double beta2, double epsilon, double weightDecay, bool paged)
    {
        this.parameters = parameters;
        (this.beta1, this.beta2, this.epsilon, this.weightDecay, this.paged) = (beta1, beta2, epsilon, weightDecay, paged);
        expAvg = new Tensor[parameters.Count];
        expAvgSq = new Tensor[parameters.Count];
        for (var i = 0; i < parameters.Count; i++)
        {
            var home = StateDevice(parameters[i]);
            expAvg[i] = zeros(parameters[i].shape, ScalarType.Float32, home);
            expAvgSq[i] = zeros(parameters[i].shape, ScalarType.Float32, home);
        }
    }

    public long Step { get; private set; }

    Device StateDevice(Parameter p) => paged && p.device.type == DeviceType.CUDA ? CPU : p.device;

    public void ZeroGrad()
    {
        foreach (var p in parameters)
            if (p.grad is { } g) g.zero_();
    }

    public void Update(double learningRate)
    {
        using var _ = no_grad();
        Step++;
        var biasCorrection1 = 1 - Math.Pow(beta1, Step);
        var biasCorrection2 = 1 - Math.Pow(beta2, Step);
        var stepSize = learningRate / biasCorrection1;
        var sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2);
        for (var i = 0; i < parameters.Count; i++)
        {
            using var scope = NewDisposeScope();
            var p = parameters[i];
            if (p.grad is null) continue;
            var grad = p.grad.to_type(ScalarType.Float32);
            var m = paged ? expAvg[i].to(p.device) : expAvg[i];
            var v = paged ? expAvgSq[i].to(p.device) : expAvgSq[i];
            if (weightDecay != 0) p.mul_(1 - learningRate * weightDecay);
            m.mul_(beta1).add_(grad, alpha: 1 - beta1);
            v.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
            var denominator = (v.sqrt() / sqrtBiasCorrection2).add_(epsilon);
            var update = (m / denominator) * -stepSize;
            p.add_(update.to_type(p.dtype));
            if (paged && !ReferenceEquals(m, expAvg[i]))
            {
                expAvg[i].copy_(m);
                expAvgSq[i].copy_(v);
            }
        }
    }

    /// <summary>Optimizer state for checkpoints: moments by parameter index, and the step count.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State()
    {
        for (var i = 0; i < parameters.Count; i++)
        {
            yield return KeyValuePair.Create($"exp_avg.{i}", expAvg[i]);
            yield return KeyValuePair.Create($"exp_avg_sq.{i}", expAvgSq[i]);
        }
    }

    public void LoadState(Func<string, Tensor> read, long step)
    {
        using var _ = no_grad();
        for (var i = 0; i < parameters.Count; i++)
        {
            using var m = read($"exp_avg.{i}");
            using var v = read($"exp_avg_sq.{i}");
            expAvg[i].copy_(m);
            expAvgSq[i].copy_(v);
        }
        Step = step;
    }

    public void Dispose()
    {
        foreach (var t in expAvg) t?.Dispose();
        foreach (var t in expAvgSq) t?.Dispose();
    }
}
