namespace LoraBuild.Models;

/// <summary>How an RMSNorm applies its weight.</summary>
public enum NormStyle
{
    /// <summary>LLaMA: normalise in float32, cast back, multiply by the weight (identity weight 1).</summary>
    Scale,

    /// <summary>Gemma: normalise and multiply by (1 + weight), all in float32, then cast back (identity weight 0).</summary>
    UnitOffset,
}

/// <summary>Which attention a decoder layer uses (HF <c>layer_types</c> values).</summary>
public enum AttentionKind
{
    Full,
    Sliding,
}

/// <summary>
/// Everything that makes one HF architecture differ from LLaMA, in one place: the modules read these traits and never
/// test <c>model_type</c>. Values that depend on a particular config.json (soft-capping constants, layer types, local
/// rope) are read by <see cref="ModelConfig.Parse"/> with these traits' defaults.
/// </summary>
public sealed record ModelFamily
{
    public required string ModelType { get; init; }
    public NormStyle Norm { get; init; } = NormStyle.Scale;
    /// <summary>Gemma: embeddings multiplied by sqrt(hidden_size), rounded to the model dtype.</summary>
    public bool ScaleEmbeddings { get; init; }
    /// <summary>Qwen3, Gemma 3: RMSNorm over head_dim on each query and key head, before RoPE (q_norm, k_norm).</summary>
    public bool QueryKeyNorm { get; init; }
    /// <summary>Gemma 2/3: post_attention_layernorm on the attention output, pre_/post_feedforward_layernorm around the MLP.</summary>
    public bool SandwichNorms { get; init; }
    /// <summary>Phi-3: one <c>qkv_proj</c> and one <c>gate_up_proj</c>.</summary>
    public bool FusedProjections { get; init; }
    /// <summary>Qwen2: q/k/v always carry a bias, o_proj never.</summary>
    public bool AlwaysQkvBias { get; init; }
    /// <summary>LLaMA, Qwen3, Gemma: config.json's <c>attention_bias</c> puts a bias on q, k, v and o.</summary>
    public bool ReadsAttentionBias { get; init; }
    /// <summary>LLaMA: config.json's <c>mlp_bias</c>.</summary>
    public bool ReadsMlpBias { get; init; }
    public bool TieWordEmbeddingsByDefault { get; init; }
    public string DefaultActivation { get; init; } = "silu";
    /// <summary>Gemma: attention scaled by query_pre_attn_scalar^-0.5 instead of head_dim^-0.5.</summary>
    public bool ReadsQueryPreAttnScalar { get; init; }
    public double? DefaultAttnLogitSoftcapping { get; init; }
    public double? DefaultFinalLogitSoftcapping { get; init; }
    /// <summary>The layer types when config.json has no <c>layer_types</c> (transformers 4.x configs).</summary>
    public required Func<LayerContext, AttentionKind[]> DefaultLayerTypes { get; init; }
    /// <summary>Gemma 3: sliding layers rotate with <c>rope_local_base_freq</c> and no scaling.</summary>
    public bool LocalRopeOnSlidingLayers { get; init; }

    /// <summary>What <see cref="DefaultLayerTypes"/> may look at.</summary>
    public sealed record LayerContext(int Layers, int? SlidingWindow, bool UseSlidingWindow, int MaxWindowLayers, int SlidingWindowPattern);

    static AttentionKind[] AllLayers(LayerContext c, AttentionKind kind) => Enumerable.Repeat(kind, c.Layers).ToArray();

    static AttentionKind[] SlidingIfWindow(LayerContext c) =>
        AllLayers(c, c.SlidingWindow is null ? AttentionKind.Full : AttentionKind.Sliding);

    /// <summary>Qwen2/Qwen3: the window applies from layer max_window_layers on, and only with use_sliding_window.</summary>
    static AttentionKind[] QwenLayers(LayerContext c) =>
        Enumerable.Range(0, c.Layers)
            .Select(i => c.UseSlidingWindow && c.SlidingWindow is not null && i >= c.MaxWindowLayers ? AttentionKind.Sliding : AttentionKind.Full)
            .ToArray();

    public static readonly ModelFamily Llama = new()
    {
        ModelType = "llama", ReadsAttentionBias = true, ReadsMlpBias = true, DefaultLayerTypes = c => AllLayers(c, AttentionKind.Full),
    };

    public static readonly ModelFamily Mistral = new() { ModelType = "mistral", DefaultLayerTypes = SlidingIfWindow };

    public static readonly ModelFamily Qwen2 = new() { ModelType = "qwen2", AlwaysQkvBias = true, DefaultLayerTypes = QwenLayers };

    public static readonly ModelFamily Phi3 = new() { ModelType = "phi3", FusedProjections = true, DefaultLayerTypes = SlidingIfWindow };

    public static readonly ModelFamily Qwen3 = new()
    {
        ModelType = "qwen3", QueryKeyNorm = true, ReadsAttentionBias = true, DefaultLayerTypes = QwenLayers,
    };

    /// <summary>Gemma 2: every even layer (0, 2, ...) slides.</summary>
    public static readonly ModelFamily Gemma2 = new()
    {
        ModelType = "gemma2", Norm = NormStyle.UnitOffset, ScaleEmbeddings = true, SandwichNorms = true, ReadsAttentionBias = true,
        TieWordEmbeddingsByDefault = true, DefaultActivation = "gelu_pytorch_tanh", ReadsQueryPreAttnScalar = true,
        DefaultAttnLogitSoftcapping = 50.0, DefaultFinalLogitSoftcapping = 30.0,
        DefaultLayerTypes = c => Enumerable.Range(0, c.Layers).Select(i => i % 2 == 0 ? AttentionKind.Sliding : AttentionKind.Full).ToArray(),
    };

    /// <summary>Gemma 3 (text): every sliding_window_pattern-th layer is global, the others slide.</summary>
    public static readonly ModelFamily Gemma3Text = Gemma2 with
    {
        ModelType = "gemma3_text", QueryKeyNorm = true, DefaultAttnLogitSoftcapping = null, DefaultFinalLogitSoftcapping = null,
        LocalRopeOnSlidingLayers = true,
        DefaultLayerTypes = c => Enumerable.Range(0, c.Layers)
            .Select(i => (i + 1) % c.SlidingWindowPattern != 0 ? AttentionKind.Sliding : AttentionKind.Full).ToArray(),
    };

    public static readonly IReadOnlyList<ModelFamily> All = [Llama, Mistral, Qwen2, Phi3, Qwen3, Gemma2, Gemma3Text];

    public static ModelFamily? Find(string modelType) => All.FirstOrDefault(f => f.ModelType == modelType);

    public static ModelFamily For(string modelType) =>
        Find(modelType) ?? throw new ArgumentException($"model_type '{modelType}' has no family description.", nameof(modelType));
}
