using LoraBuild.Adapters;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Models;

/// <summary>
/// Gated feed-forward: down(act(gate(x)) * up(x)) with SiLU (LLaMA's SwiGLU) or tanh-approximated GELU (Gemma's
/// GeGLU); Phi-3 keeps gate and up in one fused <c>gate_up_proj</c>.
/// </summary>
public sealed class Mlp : nn.Module
{
    readonly LoraLinear? gate_proj;
    readonly LoraLinear? up_proj;
    readonly LoraLinear? gate_up_proj;
    readonly LoraLinear down_proj;
    readonly bool geluTanh;

    /// <summary>HF activation names this MLP computes (<c>hidden_act</c> / <c>hidden_activation</c>).</summary>
    public static readonly IReadOnlyList<string> SupportedActivations = ["silu", "swish", "gelu_pytorch_tanh"];

    public Mlp(ModelConfig config, ScalarType dtype, Device device) : base(nameof(Mlp))
    {
        long hidden = config.HiddenSize, intermediate = config.IntermediateSize;
        geluTanh = config.HiddenAct == "gelu_pytorch_tanh";
        if (config.FusedProjections)
        {
            gate_up_proj = new LoraLinear(hidden, 2 * intermediate, false, dtype, device);
        }
        else
        {
            gate_proj = new LoraLinear(hidden, intermediate, config.MlpBias, dtype, device);
            up_proj = new LoraLinear(hidden, intermediate, config.MlpBias, dtype, device);
        }
        down_proj = new LoraLinear(intermediate, hidden, config.MlpBias, dtype, device);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor gate, up;
        if (gate_up_proj is not null)
        {
            var both = gate_up_proj.Forward(x);
            var half = both.shape[^1] / 2;
            gate = both.narrow(-1, 0, half);
            up = both.narrow(-1, half, half);
        }
        else
        {
            gate = gate_proj!.Forward(x);
            up = up_proj!.Forward(x);
        }
        var activated = geluTanh ? F.gelu(gate, TorchSharp.Modules.GELU.Approximate.tanh) : F.silu(gate);
        return scope.MoveToOuter(down_proj.Forward(activated * up));
    }
}
