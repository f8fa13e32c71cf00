using System.Text.RegularExpressions;
using LoraBuild.Models;

namespace LoraBuild.Export.Gguf.Families;

/// <summary>Which part of a module a tensor is: the transforms of the output side apply to weight rows, bias and LoRA B, never to LoRA A.</summary>
public enum TensorPart { Weight, Bias, LoraA, LoraB }

/// <summary>An HF tensor placed in llama.cpp's naming: the module it belongs to and the GGUF name of its weight/bias.</summary>
public sealed record MappedTensor(string Module, string GgufModule, TensorPart Part)
{
    public string GgufName => Part switch
    {
        TensorPart.Bias => GgufModule + ".bias",
        TensorPart.LoraA => GgufModule + ".weight.lora_a",
        TensorPart.LoraB => GgufModule + ".weight.lora_b",
        _ => GgufModule + ".weight",
    };
}

/// <summary>A family's name table and transforms applied to one model config.</summary>
public sealed partial class GgufTensorMap(GgufFamily family, ModelConfig config)
{
    public GgufFamily Family => family;

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex LayerModule();

    /// <summary>The GGUF name of an HF module (<c>model.layers.3.self_attn.q_proj</c>), or null when llama.cpp has no such tensor.</summary>
    public string? GgufModule(string module)
    {
        if (family.GlobalNames.TryGetValue(module, out var global)) return global;
        var match = LayerModule().Match(module);
        return match.Success && family.LayerNames.TryGetValue(match.Groups[2].Value, out var local)
            ? $"blk.{match.Groups[1].Value}.{local}"
            : null;
    }

    /// <summary>Maps an HF checkpoint tensor name (<c>...q_proj.weight</c>, <c>...q_proj.bias</c>); null when it has no GGUF place.</summary>
    public MappedTensor? Map(string tensorName)
    {
        var (module, part) = tensorName.EndsWith(".weight", StringComparison.Ordinal) ? (tensorName[..^7], TensorPart.Weight)
            : tensorName.EndsWith(".bias", StringComparison.Ordinal) ? (tensorName[..^5], TensorPart.Bias)
            : (tensorName, TensorPart.Weight);
        return GgufModule(module) is { } gguf ? new MappedTensor(module, gguf, part) : null;
    }

    static string LocalName(string module) => LayerModule().Match(module) is { Success: true } m ? m.Groups[2].Value : module;

    /// <summary>
    /// Gemma: the factor that turns llama.cpp's head_dim^-0.5 into query_pre_attn_scalar^-0.5 (exact: the scale is
    /// linear in q, and rope and the soft-cap come after it).
    /// </summary>
    public double QueryScaleCorrection =>
        family.QueryScale == QueryScaleCarrier.None || config.QueryPreAttnScalar is not { } scalar ? 1.0 : Math.Sqrt(config.HeadDim / scalar);

    /// <summary>Applies the family's transforms to a tensor's values (row-major, <paramref name="shape"/>[0] rows = the module's outputs).</summary>
    public float[] Transform(MappedTensor tensor, float[] values, IReadOnlyList<long> shape)
    {
        if (tensor.Part == TensorPart.LoraA) return values;
        var local = LocalName(tensor.Module);
        if (family.NormPlusOne && tensor.Part == TensorPart.Weight && local.EndsWith("norm", StringComparison.Ordinal))
            for (var i = 0; i < values.Length; i++) values[i] += 1f;
        var correction = QueryScaleCorrection;
        if (correction != 1.0 &&
            ((family.QueryScale == QueryScaleCarrier.QueryProjection && local == "self_attn.q_proj") ||
             (family.QueryScale == QueryScaleCarrier.QueryNorm && local == "self_attn.q_norm" && tensor.Part == TensorPart.Weight)))
            for (var i = 0; i < values.Length; i++) values[i] = (float)(values[i] * correction);
        if (family.PermuteQueryKey && local is "self_attn.q_proj" or "self_attn.k_proj")
            values = PermuteHeadRows(values, (int)shape[0], local == "self_attn.q_proj" ? config.NumAttentionHeads : config.NumKeyValueHeads);
        return values;
    }

    /// <summary>
    /// Within each head, row (half t, index j) moves to row 2j + t: HF's rotate-half layout to llama.cpp's interleaved
    /// pairs (what convert_hf_to_gguf.py's reshape(n_head, 2, d/2, ...).swapaxes(1, 2) does).
    /// </summary>
    public static float[] PermuteHeadRows(float[] values, int rows, int heads)
    {
        var columns = values.Length / rows;
        var headDim = rows / heads;
        var half = headDim / 2;
        var result = new float[values.Length];
        for (var h = 0; h < heads; h++)
            for (var t = 0; t < 2; t++)
                for (var j = 0; j < half; j++)
                    Array.Copy(values, (long)(h * headDim + t * half + j) * columns, result, (long)(h * headDim + 2 * j + t) * columns, columns);
        return result;
    }
}
