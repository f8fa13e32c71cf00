using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>Pre-norm transformer block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class DecoderLayer : nn.Module
{
    readonly Attention self_attn;
    readonly Mlp mlp;
    readonly RmsNorm input_layernorm;
    readonly RmsNorm post_attention_layernorm;
    readonly int index;

    public DecoderLayer(ModelConfig config, int index, ScalarType dtype, Device device) : base(nameof(DecoderLayer))
    {
        this.index = index;
        self_attn = new Attention(config, dtype, device);
        mlp = new Mlp(config, dtype, device);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor signedSin, KeyValueCache? cache, long past)
    {
        using var scope = NewDisposeScope();
        var attended = hidden + self_attn.Forward(input_layernorm.Forward(hidden), cos, signedSin, cache, past, index);
        var output = attended + mlp.Forward(post_attention_layernorm.Forward(attended));
        return scope.MoveToOuter(output);
    }
}
