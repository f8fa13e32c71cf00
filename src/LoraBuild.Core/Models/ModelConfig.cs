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
    public static readonly IReadOnlyList<string> SupportedModelTypes = new[] { "llama", "mistral", "qwen2", "phi3" };

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
    public bool TieWordEmbeddings { get; init; }
    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public int MaxPositionEmbeddings { get; init; }
    public int? SlidingWindow { get; init; }
    public string HiddenAct { get; init; } = "silu";
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    public int? PadTokenId { get; init; }

    /// <summary>Phi-3 stores q/k/v and gate/up as fused projections.</summary>
    public bool FusedProjections => ModelType == "phi3";

    public int RotaryDim => (int)(HeadDim * Rope.PartialRotaryFactor);

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
        if (!SupportedModelTypes.Contains(modelType))
            throw new LoraBuildException(ErrorCodes.UnknownModelType,
                $"model_type '{modelType}' is not supported. Supported: {string.Join(", ", SupportedModelTypes)}.", path);

        var hidden = reader.RequiredInt("hidden_size");
        var heads = reader.RequiredInt("num_attention_heads");
        var headDim = reader.Int("head_dim") ?? hidden / heads;
        var hiddenAct = reader.String("hidden_act") ?? "silu";
        if (hiddenAct is not ("silu" or "swish"))
            throw new LoraBuildException(ErrorCodes.ConfigInvalid, $"hidden_act '{hiddenAct}' is not supported (supported: silu).", path);

        return new ModelConfig
        {
            ModelType = modelType,
            VocabSize = reader.RequiredInt("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = reader.RequiredInt("intermediate_size"),
            NumHiddenLayers = reader.RequiredInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = reader.Int("num_key_value_heads") ?? heads,
            HeadDim = headDim,
            RmsNormEps = reader.Double("rms_norm_eps") ?? 1e-6,
            Rope = ParseRope(root, reader, path),
            TieWordEmbeddings = reader.Bool("tie_word_embeddings") ?? false,
            // Qwen2 always has q/k/v biases; LLaMA says so in attention_bias; Mistral and Phi-3 never do.
            AttentionBias = modelType == "qwen2" || (modelType == "llama" && (reader.Bool("attention_bias") ?? false)),
            MlpBias = modelType == "llama" && (reader.Bool("mlp_bias") ?? false),
            MaxPositionEmbeddings = reader.Int("max_position_embeddings") ?? 2048,
            SlidingWindow = modelType == "qwen2" && !(reader.Bool("use_sliding_window") ?? false) ? null : reader.Int("sliding_window"),
            HiddenAct = hiddenAct,
            BosTokenId = reader.Int("bos_token_id"),
            EosTokenIds = reader.IntOrList("eos_token_id"),
            PadTokenId = reader.Int("pad_token_id"),
        };
    }

    static RopeParameters ParseRope(JsonElement root, JsonFields reader, string path)
    {
        // transformers 5.x: everything in rope_parameters. 4.x: rope_theta at top level, optional rope_scaling object.
        JsonElement? parameters = root.TryGetProperty("rope_parameters", out var p) && p.ValueKind == JsonValueKind.Object ? p
            : root.TryGetProperty("rope_scaling", out var s) && s.ValueKind == JsonValueKind.Object ? s
            : null;
        var fields = parameters is { } element ? new JsonFields(element, path) : null;
        var theta = fields?.Double("rope_theta") ?? reader.Double("rope_theta") ?? 10000.0;
        var type = fields?.String("rope_type") ?? fields?.String("type") ?? "default";
        var partial = fields?.Double("partial_rotary_factor") ?? reader.Double("partial_rotary_factor") ?? 1.0;
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
