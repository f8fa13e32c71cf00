using System.Text.Json;
using LoraBuild.Diagnostics;

namespace LoraBuild.Models;

/// <summary>Rotary position embedding settings, from either transformers 5.x <c>rope_parameters</c> or 4.x <c>rope_theta</c>/<c>rope_scaling</c>.</summary>
public sealed record RopeParameters(
    string Type,
    double Theta,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 0,
    double PartialRotaryFactor = 1.0);

/// <summary>
/// The subset of an HF <c>config.json</c> that decides the architecture of a LLaMA-family decoder.
/// Field names follow the HF keys they come from.
/// </summary>
public sealed record ModelConfig
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ModelFamily.All.Select(f => f.ModelType).Append("gemma3").ToArray();

    public required string ModelType { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required double RmsNormEps { get; init; }
    public required RopeParameters Rope { get; init; }
    /// <summary>Gemma 3: the rotary settings of sliding layers (<c>rope_local_base_freq</c>); null: every layer uses <see cref="Rope"/>.</summary>
    public RopeParameters? LocalRope { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q_proj, k_proj and v_proj.</summary>
    public bool AttentionBias { get; init; }
    /// <summary>Bias on o_proj.</summary>
    public bool OutputProjectionBias { get; init; }
    public bool MlpBias { get; init; }
    public int MaxPositionEmbeddings { get; init; }
    public int? SlidingWindow { get; init; }
    /// <summary>One entry per layer; empty: every layer slides when <see cref="SlidingWindow"/> is set.</summary>
    public IReadOnlyList<AttentionKind> LayerTypes { get; init; } = Array.Empty<AttentionKind>();
    public string HiddenAct { get; init; } = "silu";
    /// <summary>Gemma: attention scores scaled by this^-0.5 (null: head_dim).</summary>
    public double? QueryPreAttnScalar { get; init; }
    /// <summary>Gemma 2: scores become cap * tanh(scores / cap) before the mask.</summary>
    public double? AttnLogitSoftcapping { get; init; }
    /// <summary>Gemma 2: logits become cap * tanh(logits / cap).</summary>
    public double? FinalLogitSoftcapping { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    public int? PadTokenId { get; init; }
    /// <summary>
    /// A multimodal Gemma 3 config (<c>gemma3</c> with a <c>text_config</c>): its checkpoint keys carry a language-model
    /// prefix and the vision tower's tensors, which the loader maps and skips.
    /// </summary>
    public bool FromMultimodalConfig { get; init; }

    public ModelFamily Family => ModelFamily.For(ModelType);

    /// <summary>Phi-3 stores q/k/v and gate/up as fused projections.</summary>
    public bool FusedProjections => Family.FusedProjections;

    public int RotaryDim => (int)(HeadDim * Rope.PartialRotaryFactor);

    public AttentionKind LayerType(int layer) =>
        LayerTypes.Count > 0 ? LayerTypes[layer] : SlidingWindow is null ? AttentionKind.Full : AttentionKind.Sliding;

    /// <summary>The window of a layer (keys i - window &lt; j &lt;= i), or null for full causal attention.</summary>
    public int? LayerSlidingWindow(int layer) => LayerType(layer) == AttentionKind.Sliding ? SlidingWindow : null;

    public RopeParameters LayerRope(int layer) => LocalRope is { } local && LayerType(layer) == AttentionKind.Sliding ? local : Rope;

    public double AttentionScale => 1.0 / Math.Sqrt(QueryPreAttnScalar ?? HeadDim);

    public static ModelConfig Load(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "config.json");
        if (!File.Exists(path))
            throw new LoraBuildException(ErrorCodes.ConfigMissing,
                Directory.Exists(modelDirectory)
                    ? "config.json is missing: this is not a Hugging Face model folder."
                    : "Model folder does not exist.", Directory.Exists(modelDirectory) ? path : modelDirectory);
        JsonDocument document;
        var text = File.ReadAllText(path);
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new LoraBuildException(ErrorCodes.ConfigInvalid, $"config.json is not valid JSON: {e.Message}", path, (int)(e.LineNumber ?? 0) + 1);
        }
        using (document)
        {
            ModelConfigValidation.Validate(document.RootElement, path, text);
            return Parse(document.RootElement, path);
        }
    }

    public static ModelConfig Parse(JsonElement root, string path)
    {
        var reader = new JsonFields(root, path);
        var modelType = reader.String("model_type")
            ?? throw new LoraBuildException(ErrorCodes.ConfigInvalid, "config.json has no 'model_type'.", path);
        if (modelType == "gemma3")
        {
            // Gemma3ForConditionalGeneration: the language model is described by text_config.
            if (!root.TryGetProperty("text_config", out var text) || text.ValueKind != JsonValueKind.Object)
                throw new LoraBuildException(ErrorCodes.ConfigInvalid, "A 'gemma3' config.json needs a 'text_config' object (the language model).", path);
            return ParseFamily(text, ModelFamily.Gemma3Text, path, reader.Bool("tie_word_embeddings")) with { FromMultimodalConfig = true };
        }
        if (ModelFamily.Find(modelType) is not { } family)
            throw new LoraBuildException(ErrorCodes.UnknownModelType,
                $"model_type '{modelType}' is not supported. Supported: {string.Join(", ", SupportedModelTypes)}.", path);
        return ParseFamily(root, family, path, null);
    }

    static ModelConfig ParseFamily(JsonElement root, ModelFamily family, string path, bool? outerTie)
    {
        var reader = new JsonFields(root, path);
        var hidden = reader.RequiredInt("hidden_size");
        var heads = reader.RequiredInt("num_attention_heads");
        var layers = reader.RequiredInt("num_hidden_layers");
        var headDim = reader.Int("head_dim") ?? hidden / heads;
        // Gemma names it hidden_activation (Gemma 2 checkpoints carry both keys).
        var hiddenAct = reader.String("hidden_activation") ?? reader.String("hidden_act") ?? family.DefaultActivation;
        if (!Mlp.SupportedActivations.Contains(hiddenAct))
            throw new LoraBuildException(ErrorCodes.ConfigInvalid,
                $"hidden_act '{hiddenAct}' is not supported (supported: {string.Join(", ", Mlp.SupportedActivations)}).", path);

        var slidingWindow = reader.Int("sliding_window");
        var layerTypes = ParseLayerTypes(root, path, layers) ?? family.DefaultLayerTypes(new ModelFamily.LayerContext(
            layers, slidingWindow, reader.Bool("use_sliding_window") ?? false, reader.Int("max_window_layers") ?? 0,
            reader.Int("sliding_window_pattern") ?? reader.Int("_sliding_window_pattern") ?? 6));
        if (slidingWindow is null && layerTypes.Contains(AttentionKind.Sliding))
            throw new LoraBuildException(ErrorCodes.ConfigInvalid, "layer_types has sliding_attention layers but 'sliding_window' is not set.", path);
        var (rope, localRope) = ParseRopes(root, reader, family, path);
        var attentionBias = family.AlwaysQkvBias || (family.ReadsAttentionBias && (reader.Bool("attention_bias") ?? false));

        return new ModelConfig
        {
            ModelType = family.ModelType,
            VocabSize = reader.RequiredInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = reader.RequiredInt("intermediate_size"),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = reader.Int("num_key_value_heads") ?? heads,
            HeadDim = headDim,
            RmsNormEps = reader.Double("rms_norm_eps") ?? 1e-6,
            Rope = rope,
            LocalRope = localRope,
            TieWordEmbeddings = reader.Bool("tie_word_embeddings") ?? outerTie ?? family.TieWordEmbeddingsByDefault,
            AttentionBias = attentionBias,
            OutputProjectionBias = family.ReadsAttentionBias && attentionBias,
            MlpBias = family.ReadsMlpBias && (reader.Bool("mlp_bias") ?? false),
            MaxPositionEmbeddings = reader.Int("max_position_embeddings") ?? 2048,
            SlidingWindow = layerTypes.Contains(AttentionKind.Sliding) ? slidingWindow : null,
            LayerTypes = layerTypes,
            HiddenAct = hiddenAct,
            QueryPreAttnScalar = family.ReadsQueryPreAttnScalar ? reader.Double("query_pre_attn_scalar") ?? 256 : null,
            AttnLogitSoftcapping = OptionalCap(root, reader, "attn_logit_softcapping", family.DefaultAttnLogitSoftcapping),
            FinalLogitSoftcapping = OptionalCap(root, reader, "final_logit_softcapping", family.DefaultFinalLogitSoftcapping),
            BosTokenId = reader.Int("bos_token_id"),
            EosTokenIds = reader.IntOrList("eos_token_id"),
            PadTokenId = reader.Int("pad_token_id"),
        };
    }

    /// <summary>A soft-capping constant: the key's number, none when it is null, the family's default when absent.</summary>
    static double? OptionalCap(JsonElement root, JsonFields reader, string key, double? familyDefault) =>
        !root.TryGetProperty(key, out var value) ? familyDefault
        : value.ValueKind == JsonValueKind.Null ? null
        : reader.Double(key);

    /// <summary>transformers 5.x <c>layer_types</c>; null when the config (4.x) has none.</summary>
    static AttentionKind[]? ParseLayerTypes(JsonElement root, string path, int layers)
    {
        if (!root.TryGetProperty("layer_types", out var types) || types.ValueKind == JsonValueKind.Null) return null;
        if (types.ValueKind != JsonValueKind.Array || types.GetArrayLength() != layers)
            throw new LoraBuildException(ErrorCodes.ConfigInvalid, $"config.json 'layer_types' must list one type for each of the {layers} layers.", path);
        return types.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString() : null).Select(t => t switch
        {
            "full_attention" => AttentionKind.Full,
            "sliding_attention" => AttentionKind.Sliding,
            _ => throw new LoraBuildException(ErrorCodes.ConfigInvalid,
                $"config.json 'layer_types' entry '{t}' is not supported (supported: full_attention, sliding_attention).", path),
        }).ToArray();
    }

    /// <summary>
    /// The rotary settings of full-attention layers and, for Gemma 3, of sliding layers. transformers 5.x keeps either one
    /// <c>rope_parameters</c> object or one per layer type; 4.x has <c>rope_theta</c>, <c>rope_scaling</c> and Gemma 3's
    /// <c>rope_local_base_freq</c> (sliding layers: default rope, no scaling) at the top level.
    /// </summary>
    static (RopeParameters Rope, RopeParameters? Local) ParseRopes(JsonElement root, JsonFields reader, ModelFamily family, string path)
    {
        var partialDefault = reader.Double("partial_rotary_factor") ?? 1.0;
        if (root.TryGetProperty("rope_parameters", out var p) && p.ValueKind == JsonValueKind.Object &&
            (p.TryGetProperty("full_attention", out var fullPart) | p.TryGetProperty("sliding_attention", out var slidingPart)))
        {
            var full = fullPart.ValueKind == JsonValueKind.Object ? ParseRope(new JsonFields(fullPart, path), 10000.0, partialDefault, path)
                : throw new LoraBuildException(ErrorCodes.ConfigInvalid, "config.json 'rope_parameters' has no 'full_attention' entry.", path);
            var sliding = slidingPart.ValueKind == JsonValueKind.Object ? ParseRope(new JsonFields(slidingPart, path), 10000.0, partialDefault, path) : null;
            return (full, family.LocalRopeOnSlidingLayers ? sliding : null);
        }
        JsonElement? parameters = root.TryGetProperty("rope_parameters", out p) && p.ValueKind == JsonValueKind.Object ? p
            : root.TryGetProperty("rope_scaling", out var s) && s.ValueKind == JsonValueKind.Object ? s
            : null;
        var fields = parameters is { } element ? new JsonFields(element, path) : null;
        var theta = fields?.Double("rope_theta") ?? reader.Double("rope_theta") ?? 10000.0;
        var rope = ParseRope(fields, theta, partialDefault, path);
        var local = family.LocalRopeOnSlidingLayers
            ? new RopeParameters("default", reader.Double("rope_local_base_freq") ?? 10000.0, PartialRotaryFactor: rope.PartialRotaryFactor)
            : null;
        return (rope, local);
    }

    static RopeParameters ParseRope(JsonFields? fields, double defaultTheta, double partialDefault, string path)
    {
        var theta = fields?.Double("rope_theta") ?? defaultTheta;
        var type = fields?.String("rope_type") ?? fields?.String("type") ?? "default";
        var partial = fields?.Double("partial_rotary_factor") ?? partialDefault;
        switch (type)
        {
            case "default":
                return new RopeParameters("default", theta, PartialRotaryFactor: partial);
            case "linear":
                return new RopeParameters("linear", theta, fields!.Double("factor") ?? 1.0, PartialRotaryFactor: partial);
            case "llama3":
                return new RopeParameters("llama3", theta,
                    fields!.Double("factor") ?? throw Missing("factor"),
                    fields.Double("low_freq_factor") ?? throw Missing("low_freq_factor"),
                    fields.Double("high_freq_factor") ?? throw Missing("high_freq_factor"),
                    fields.Int("original_max_position_embeddings") ?? throw Missing("original_max_position_embeddings"),
                    partial);
            default:
                throw new LoraBuildException(ErrorCodes.UnsupportedRopeScaling,
                    $"rope type '{type}' is not supported (supported: default, linear, llama3).", path);
        }

        LoraBuildException Missing(string key) => new(ErrorCodes.ConfigInvalid, $"llama3 rope scaling needs '{key}'.", path);
    }

    /// <summary>Typed access to optional JSON fields, with errors that name the key.</summary>
    sealed class JsonFields(JsonElement element, string path)
    {
        JsonElement? Get(string key) =>
            element.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        public string? String(string key) => Get(key) is { } v
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(key, "a string")
            : null;

        public int? Int(string key) => Get(key) is { } v
            ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Wrong(key, "an integer")
            : null;

        public int RequiredInt(string key) => Int(key) is { } v && v > 0
            ? v
            : throw new LoraBuildException(ErrorCodes.ConfigInvalid, $"config.json needs a positive integer '{key}'.", path);

        public double? Double(string key) => Get(key) is { } v
            ? v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Wrong(key, "a number")
            : null;

        public bool? Bool(string key) => Get(key) is { } v
            ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(key, "true or false")
            : null;

        public IReadOnlyList<int> IntOrList(string key) => Get(key) switch
        {
            null => Array.Empty<int>(),
            { ValueKind: JsonValueKind.Number } v => new[] { v.GetInt32() },
            { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            _ => throw Wrong(key, "an integer or a list of integers"),
        };

        LoraBuildException Wrong(string key, string expected) =>
            new(ErrorCodes.ConfigInvalid, $"config.json '{key}' must be {expected}.", path);
    }
}
