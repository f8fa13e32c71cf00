namespace LoraBuild.Export.Gguf;

/// <summary>The <c>--outtype</c> of an export: the type of the large matrices (norms and biases stay f32, as llama.cpp's converter keeps them).</summary>
public enum GgufOutType
{
    F32,
    F16,
    BF16,
    Q8_0,
}

public static class GgufOutTypes
{
    public static readonly IReadOnlyList<string> Names = ["f32", "f16", "bf16", "q8_0"];

    public static GgufOutType Parse(string name) => name switch
    {
        "f32" => GgufOutType.F32,
        "f16" => GgufOutType.F16,
        "bf16" => GgufOutType.BF16,
        "q8_0" => GgufOutType.Q8_0,
        _ => throw new ArgumentException($"unknown GGUF out type '{name}'", nameof(name)),
    };

    /// <summary>llama.cpp's <c>general.file_type</c> (<c>llama_ftype</c>): ALL_F32, MOSTLY_F16, MOSTLY_BF16, MOSTLY_Q8_0.</summary>
    public static uint FileType(this GgufOutType type) => type switch
    {
        GgufOutType.F32 => 0,
        GgufOutType.F16 => 1,
        GgufOutType.Q8_0 => 7,
        GgufOutType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>
    /// The storage type of one tensor: vectors (norms, biases, rope factors) stay f32; a matrix takes the out type, except
    /// Q8_0 where a row does not split into 32-value blocks (then f16, as llama.cpp's converter falls back).
    /// </summary>
    public static GgmlType TensorType(this GgufOutType type, IReadOnlyList<long> shape)
    {
        if (shape.Count < 2) return GgmlType.F32;
        return type switch
        {
            GgufOutType.F32 => GgmlType.F32,
            GgufOutType.F16 => GgmlType.F16,
            GgufOutType.BF16 => GgmlType.BF16,
            GgufOutType.Q8_0 => shape[^1] % GgmlTypes.Q8BlockSize == 0 ? GgmlType.Q8_0 : GgmlType.F16,
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }
}
