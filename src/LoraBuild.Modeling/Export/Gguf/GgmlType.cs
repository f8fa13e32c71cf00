namespace LoraBuild.Export.Gguf;

/// <summary>The ggml tensor types LoraBuild writes (values of ggml.h's <c>ggml_type</c>).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
    BF16 = 30,
}

public static class GgmlTypes
{
    /// <summary>Q8_0 packs 32 values as one f16 scale and 32 signed bytes.</summary>
    public const int Q8BlockSize = 32;
    const int Q8BlockBytes = 2 + Q8BlockSize;

    /// <summary>Bytes of <paramref name="elements"/> values of this type (a multiple of the block size for Q8_0).</summary>
    public static long ByteCount(this GgmlType type, long elements) => type switch
    {
        GgmlType.F32 => elements * 4,
        GgmlType.F16 or GgmlType.BF16 => elements * 2,
        GgmlType.Q8_0 => elements / Q8BlockSize * Q8BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
