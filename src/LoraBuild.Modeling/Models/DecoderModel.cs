using LoraBuild.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// The <c>model.</c> part of an HF causal LM: token embeddings (Gemma scales them by sqrt(hidden_size) in the model
/// dtype), decoder layers, final norm. Gemma 3's sliding layers rotate with their own base (<c>rotary_emb_local</c>).
/// </summary>
public sealed class DecoderModel : nn.Module
{
    readonly EmbeddingTable embed_tokens;
    readonly ModuleList<DecoderLayer> layers;
    readonly RmsNorm norm;
    readonly RotaryEmbedding rotary_emb;
    readonly RotaryEmbedding? rotary_emb_local;
    readonly bool[] usesLocalRope;
    readonly double? embeddingScale;
    readonly ScalarType dtype;

    public DecoderModel(ModelConfig config, ScalarType dtype, Device device) : base(nameof(DecoderModel))
    {
        this.dtype = dtype;
        embed_tokens = new EmbeddingTable(config.VocabSize, config.HiddenSize, dtype, device);
        layers = new ModuleList<DecoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++) layers.Add(new DecoderLayer(config, i, dtype, device));
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device, config.Family.Norm);
        rotary_emb = new RotaryEmbedding(config.Rope, config.HeadDim, device);
        if (config.LocalRope is { } local) rotary_emb_local = new RotaryEmbedding(local, config.HeadDim, device);
        usesLocalRope = Enumerable.Range(0, config.NumHiddenLayers).Select(i => !ReferenceEquals(config.LayerRope(i), config.Rope)).ToArray();
        embeddingScale = config.Family.ScaleEmbeddings ? Math.Sqrt(config.HiddenSize) : null;
        RegisterComponents();
    }

    public Parameter EmbedTokensWeight => embed_tokens.Weight;

    /// <summary>Adapters' trainable copies of the embedding table (modules_to_save).</summary>
    public Adapters.WeightCopies EmbedTokensCopies => embed_tokens.Copies;

    /// <summary>Gradient checkpointing: recompute each layer in backward instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; set; }

    public Tensor Forward(Tensor inputIds, KeyValueCache? cache = null) => Forward(inputIds, cache, null);

    /// <summary>A batch whose rows each continue their own cache (serving): row i starts at its cache's length.</summary>
    public Tensor ForwardRows(Tensor inputIds, RowCaches rowCaches) => Forward(inputIds, null, rowCaches);

    Tensor Forward(Tensor inputIds, KeyValueCache? cache, RowCaches? rowCaches)
    {
        using var scope = NewDisposeScope();
        var (batch, length) = (inputIds.shape[0], inputIds.shape[1]);
        var past = cache?.Length ?? 0;
        var positions = rowCaches is null
            ? OwnedScalars.Range(past, past + length, inputIds.device).unsqueeze(0).expand(batch, length)
            : tensor(rowCaches.Past.ToArray(), ScalarType.Int64, inputIds.device).unsqueeze(1).Plus(OwnedScalars.Range(0, length, inputIds.device).unsqueeze(0));
        var hidden = embed_tokens.Forward(inputIds);
        // HF multiplies by the normaliser as a tensor of the model dtype: in bf16, sqrt(1152) = 33.94 becomes 34.0.
        if (embeddingScale is { } normaliser) hidden = hidden * tensor(normaliser, dtype, hidden.device);
        var (cos, signedSin) = rotary_emb.Forward(positions, dtype);
        var (localCos, localSignedSin) = rotary_emb_local is null ? (cos, signedSin) : rotary_emb_local.Forward(positions, dtype);
        var checkpoint = GradientCheckpointing && training && cache is null && rowCaches is null && is_grad_enabled();
        // Re-entrant checkpointing needs a differentiable input, or the first layer would record nothing (HF does the same).
        if (checkpoint) hidden.requires_grad_(true);
        foreach (var layer in layers)
        {
            var (c, s) = usesLocalRope[layer.Index] ? (localCos, localSignedSin) : (cos, signedSin);
            hidden = checkpoint ? CheckpointedLayer.Apply(layer, hidden, c, s) : layer.Forward(hidden, c, s, cache, past, rowCaches);
        }
        rowCaches?.Advance(length);
        return scope.MoveToOuter(norm.Forward(hidden));
    }
}
