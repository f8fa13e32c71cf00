using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// Pre-norm transformer block: x + attn(norm(x)), then h + mlp(norm(h)). Gemma's sandwich form also normalises each
/// sub-block's output: x + post_attention_layernorm(attn(input_layernorm(x))), then
/// h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))); there post_attention_layernorm is not the MLP's input norm.
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    readonly Attention self_attn;
    readonly Mlp mlp;
    readonly RmsNorm input_layernorm;
    readonly RmsNorm post_attention_layernorm;
    readonly RmsNorm? pre_feedforward_layernorm;
    readonly RmsNorm? post_feedforward_layernorm;
    readonly int index;

    public DecoderLayer(ModelConfig config, int index, ScalarType dtype, Device device) : base(nameof(DecoderLayer))
    {
        this.index = index;
        var style = config.Family.Norm;
        self_attn = new Attention(config, index, dtype, device);
        mlp = new Mlp(config, dtype, device);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device, style);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device, style);
        if (config.Family.SandwichNorms)
        {
            pre_feedforward_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device, style);
            post_feedforward_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device, style);
        }
        RegisterComponents();
    }

    public int Index => index;

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor signedSin, KeyValueCache? cache, long past, RowCaches? rowCaches = null)
    {
        using var scope = NewDisposeScope();
        var attention = self_attn.Forward(input_layernorm.Forward(hidden), cos, signedSin, cache, past, index, rowCaches);
        if (pre_feedforward_layernorm is null)
        {
            var attended = hidden.Plus(attention);
            return scope.MoveToOuter(attended.Plus(mlp.Forward(post_attention_layernorm.Forward(attended))));
        }
        var sandwiched = hidden.Plus(post_attention_layernorm.Forward(attention));
        var fed = post_feedforward_layernorm!.Forward(mlp.Forward(pre_feedforward_layernorm.Forward(sandwiched)));
        return scope.MoveToOuter(sandwiched.Plus(fed));
    }
}
