using System.Buffers.Binary;

namespace LoraBuild.Export.Gguf;

/// <summary>float32 values to the bytes of a ggml type, row-major as stored.</summary>
public static class GgufTensorEncoder
{
    public static byte[] Encode(ReadOnlySpan<float> values, GgmlType type)
    {
        var bytes = new byte[type.ByteCount(values.Length)];
        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
                break;
            case GgmlType.F16:
                for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
                break;
            case GgmlType.BF16:
                for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), ToBFloat16(values[i]));
                break;
            case GgmlType.Q8_0:
                EncodeQ8(values, bytes);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
        return bytes;
    }

    /// <summary>Round to nearest even on the upper 16 bits; NaN stays a (quiet) NaN, as ggml's fp32 to bf16 does.</summary>
    public static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return (ushort)((bits >> 16) | 64);
        return (ushort)((bits + (0x7fff + ((bits >> 16) & 1))) >> 16);
    }

    /// <summary>
    /// Q8_0: per block of 32, d = max|x| / 127 stored as f16 and q = round(x / d) as int8 (ggml's reference quantizer,
    /// rounding half away from zero).
    /// </summary>
    static void EncodeQ8(ReadOnlySpan<float> values, Span<byte> output)
    {
        const int block = GgmlTypes.Q8BlockSize;
        for (int b = 0, o = 0; b < values.Length; b += block, o += 2 + block)
        {
            var chunk = values.Slice(b, block);
            var amax = 0f;
            foreach (var v in chunk) amax = Math.Max(amax, Math.Abs(v));
            var d = amax / 127f;
            var id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(output.Slice(o), (Half)d);
            for (var i = 0; i < block; i++)
                output[o + 2 + i] = unchecked((byte)(sbyte)MathF.Round(chunk[i] * id, MidpointRounding.AwayFromZero));
        }
    }
}
