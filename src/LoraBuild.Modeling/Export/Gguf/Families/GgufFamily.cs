using LoraBuild.Models;

namespace LoraBuild.Export.Gguf.Families;

/// <summary>How Gemma's attention scale query_pre_attn_scalar^-0.5 is carried, since llama.cpp fixes it at head_dim^-0.5.</summary>
public enum QueryScaleCarrier
{
    /// <summary>The family uses head_dim^-0.5 (no correction needed).</summary>
    None,

    /// <summary>Gemma 2: the q_proj rows (weight, bias, LoRA B) are multiplied by the correction.</summary>
    QueryProjection,

    /// <summary>Gemma 3: q_norm re-normalises q_proj's output, so the correction goes into q_norm's weight.</summary>
    QueryNorm,
}

/// <summary>
/// One llama.cpp architecture: its name, the table from HF module names to llama.cpp tensor names, and the tensor
/// transforms llama.cpp's converter applies for it. Names in <see cref="LayerNames"/> are relative to
/// <c>model.layers.N.</c> and omit the <c>.weight</c>/<c>.bias</c> suffix.
/// </summary>
public sealed record GgufFamily
{
    public required string Architecture { get; init; }
    public required IReadOnlyDictionary<string, string> LayerNames { get; init; }
    public IReadOnlyDictionary<string, string> GlobalNames { get; init; } = GgufNameTables.Globals;

    /// <summary>
    /// LLaMA/Mistral: llama.cpp rotates interleaved pairs (x0, x1), HF rotates halves (x_i, x_{i+d/2}), so each head's
    /// q and k output rows are reordered (half-major to pair-major) — the converter's q/k permutation.
    /// </summary>
    public bool PermuteQueryKey { get; init; }

    /// <summary>Gemma: RMSNorm multiplies by (1 + w); llama.cpp multiplies by w, so w + 1 is stored.</summary>
    public bool NormPlusOne { get; init; }

    public QueryScaleCarrier QueryScale { get; init; }

    /// <summary>Gemma 2/3: writes attention.sliding_window and its period (llama.cpp's llama, qwen2 and phi3 ignore windows).</summary>
    public bool WritesSlidingWindow { get; init; }

    /// <summary>Llama 3 rope scaling is carried as a <c>rope_freqs.weight</c> tensor, which only the llama architecture reads.</summary>
    public bool ReadsRopeFrequencyFactors { get; init; }

    public static GgufFamily For(ModelFamily family) => family.ModelType switch
    {
        "llama" => GgufNameTables.LlamaFamily,
        "mistral" => GgufNameTables.MistralFamily,
        "qwen2" => GgufNameTables.Qwen2Family,
        "qwen3" => GgufNameTables.Qwen3Family,
        "phi3" => GgufNameTables.Phi3Family,
        "gemma2" => GgufNameTables.Gemma2Family,
        "gemma3_text" => GgufNameTables.Gemma3Family,
        _ => throw new ArgumentException($"no GGUF table for model_type '{family.ModelType}'", nameof(family)),
    };
}
