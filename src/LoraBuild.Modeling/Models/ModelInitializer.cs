using TorchSharp;
using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// HF's _init_weights for LLaMA-family models: normal(0, initializer_range) for linear and embedding weights, zero
/// biases, norms at their identity (1, or 0 for Gemma's 1 + weight).
/// </summary>
public static class ModelInitializer
{
    public static CausalLM RandomInit(ModelConfig config, long seed, double initializerRange = 0.02, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var model = new CausalLM(config, dtype, device ?? CPU);
        using var _ = no_grad();
        // A CPU generator cannot fill CUDA tensors: seed the device's default generator there instead.
        var onCuda = (device ?? CPU).type == TorchSharp.DeviceType.CUDA;
        if (onCuda) cuda.manual_seed_all(seed);
        using var generator = onCuda ? null : new TorchSharp.torch.Generator((ulong)seed, CPU);
        var normIdentity = model.modules().OfType<RmsNorm>().ToDictionary(n => n.Weight.Handle, n => n.IdentityWeight);
        foreach (var (name, parameter) in model.CheckpointParameters())
        {
            if (normIdentity.TryGetValue(parameter.Handle, out var identity))
            {
                using var value = identity.ToScalar();
                parameter.fill_(value);
            }
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) parameter.zero_();
            else parameter.normal_(0, initializerRange, generator);
        }
        return model;
    }
}
