using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>The <c>model.</c> part of an HF causal LM: token embeddings, decoder layers, final norm.</summary>
public sealed class DecoderModel : nn.Module
{
    readonly EmbeddingTable embed_tokens;
    readonly ModuleList<DecoderLayer> layers;
    readonly RmsNorm norm;
    readonly RotaryEmbedding rotary_emb;
    readonly ScalarType dtype;

    public DecoderModel(ModelConfig config, ScalarType dtype, Device device) : base(nameof(DecoderModel))
    {
        this.dtype = dtype;
        embed_tokens = new EmbeddingTable(config.VocabSize, config.HiddenSize, dtype, device);
        layers = new ModuleList<DecoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++) layers.Add(new DecoderLayer(config, i, dtype, device));
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        rotary_emb = new RotaryEmbedding(config, device);
        RegisterComponents();
    }

    public Parameter EmbedTokensWeight => embed_tokens.Weight;

    /// <summary>Gradient checkpointing: recompute each layer in backward instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; set; }

    public Tensor Forward(Tensor inputIds, KeyValueCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var (batch, length) = (inputIds.shape[0], inputIds.shape[1]);
        var past = cache?.Length ?? 0;
        var positions = arange(past, past + length, device: inputIds.device).unsqueeze(0).expand(batch, length);
        var hidden = embed_tokens.Forward(inputIds);
        var (cos, signedSin) = rotary_emb.Forward(positions, dtype);
        var checkpoint = GradientCheckpointing && training && cache is null && is_grad_enabled();
        // Re-entrant checkpointing needs a differentiable input, or the first layer would record nothing (HF does the same).
        if (checkpoint) hidden.requires_grad_(true);
        foreach (var layer in layers)
        {
            hidden = checkpoint ? CheckpointedLayer.Apply(layer, hidden, cos, signedSin) : layer.Forward(hidden, cos, signedSin, cache, past);
        }
        return scope.MoveToOuter(norm.Forward(hidden));
    }
}
