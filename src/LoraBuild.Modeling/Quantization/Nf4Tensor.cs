using TorchSharp;
using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Quantization;

/// <summary>
/// A frozen weight stored as 4-bit NormalFloat (QLoRA): blocks of 64 values share an absmax; each value is the index
/// of the nearest of 16 NF4 code values, two indices per byte (first in the high nibble, as bitsandbytes packs).
/// With double quantization the absmax constants are themselves stored in 8 bits: the mean is subtracted and the
/// rest quantised symmetrically in blocks of 256 with one float32 scale each.
/// </summary>
public sealed class Nf4Tensor : IQuantizedWeight
{
    public const int BlockSize = 64;
    public const int AbsmaxBlockSize = 256;
    // Owned for the process (docs/native.md): passed to libtorch on every quantisation.
    static readonly Scalar MinAbsmax = 1e-12f.ToScalar();
    static readonly Scalar MinInt8Code = (-127).ToScalar();
    static readonly Scalar MaxInt8Code = 127.ToScalar();

    /// <summary>The NF4 code values of the QLoRA paper (bitsandbytes' NF4 map), ascending.</summary>
    public static readonly float[] CodeValues =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    readonly Tensor packed;          // uint8 [ceil(n/64)*32]
    readonly Tensor? absmax;         // float32 [blocks] when not double-quantised
    readonly Tensor? absmaxCodes;    // int8 [blocks] when double-quantised
    readonly Tensor? absmaxScales;   // float32 [ceil(blocks/256)]
    readonly double absmaxOffset;
    readonly Tensor pairTable;       // float32 [256, 2]: byte b -> (code[b >> 4], code[b & 15])

    Nf4Tensor(long[] shape, Tensor packed, Tensor? absmax, Tensor? absmaxCodes, Tensor? absmaxScales, double absmaxOffset, Device device)
    {
        Shape = shape;
        this.packed = packed;
        this.absmax = absmax;
        this.absmaxCodes = absmaxCodes;
        this.absmaxScales = absmaxScales;
        this.absmaxOffset = absmaxOffset;
        pairTable = PairTable(device);
    }

    public long[] Shape { get; }
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public bool DoubleQuantized => absmaxCodes is not null;

    /// <summary>Bytes this weight occupies: packed codes plus its quantisation constants.</summary>
    public long StorageBytes =>
        packed.numel() + (absmax?.numel() * 4 ?? 0) + (absmaxCodes?.numel() ?? 0) + (absmaxScales?.numel() * 4 ?? 0) + (DoubleQuantized ? 8 : 0);

    public static Nf4Tensor Quantize(Tensor weight, bool doubleQuantization = true)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = weight.device;
        var flat = weight.detach().to_type(ScalarType.Float32).reshape(-1);
        var n = flat.numel();
        var padded = (n + BlockSize - 1) / BlockSize * BlockSize;
        if (padded != n) flat = cat([flat, zeros(padded - n, device: device)]);
        var blocks = flat.view(-1, BlockSize);
        var blockAbsmax = blocks.abs().amax([1L]).clamp_min(MinAbsmax);
        var normalised = blocks / blockAbsmax.unsqueeze(1);

        // Nearest code value: bucketize against the midpoints between neighbouring codes.
        var codes = tensor(CodeValues, device: device);
        var midpoints = codes.narrow(0, 0, 15).Plus(codes.narrow(0, 1, 15)).DividedBy(2);
        var indices = bucketize(normalised.reshape(-1), midpoints).view(-1, 2);
        var packedCodes = indices.select(1, 0).Times(16).Plus(indices.select(1, 1)).to_type(ScalarType.Byte);

        if (!doubleQuantization)
            return new Nf4Tensor(weight.shape, packedCodes.MoveToOuterDisposeScope(), blockAbsmax.MoveToOuterDisposeScope(), null, null, 0, device);

        var offset = blockAbsmax.mean().item<float>();
        var centred = blockAbsmax.Minus(offset);
        var count = centred.numel();
        var paddedCount = (count + AbsmaxBlockSize - 1) / AbsmaxBlockSize * AbsmaxBlockSize;
        if (paddedCount != count) centred = cat([centred, zeros(paddedCount - count, device: device)]);
        var groups = centred.view(-1, AbsmaxBlockSize);
        var scales = groups.abs().amax([1L]).DividedBy(127f).clamp_min(MinAbsmax);
        var quantised = (groups / scales.unsqueeze(1)).round().clamp(MinInt8Code, MaxInt8Code).to_type(ScalarType.Int8).reshape(-1).narrow(0, 0, count);
        return new Nf4Tensor(weight.shape, packedCodes.MoveToOuterDisposeScope(), null,
            quantised.contiguous().MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope(), offset, device);
    }

    /// <summary>The block absmax constants as float32 (dequantising the second level when double-quantised).</summary>
    public Tensor BlockAbsmax()
    {
        if (absmax is not null) return absmax.alias();
        using var scope = NewDisposeScope();
        var count = absmaxCodes!.numel();
        var scales = absmaxScales!.repeat_interleave(AbsmaxBlockSize).narrow(0, 0, count);
        return scope.MoveToOuter(absmaxCodes.to_type(ScalarType.Float32).mul(scales).Plus(absmaxOffset));
    }

    /// <summary>
    /// The weight in <paramref name="dtype"/>: code value x block absmax, in float32, then cast. Each packed byte looks
    /// up its two code values at once (int32 indices), so a dequantisation is four kernels over the weight: widen the
    /// bytes, look up, scale, cast.
    /// </summary>
    public Tensor Dequantize(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var values = pairTable.index_select(0, packed.to_type(ScalarType.Int32)).view(-1, BlockSize).mul_(BlockAbsmax().unsqueeze(1));
        var weight = values.view(-1).narrow(0, 0, ElementCount).view(Shape).to_type(dtype);
        return scope.MoveToOuter(weight);
    }

    static Tensor PairTable(Device device)
    {
        var pairs = new float[256 * 2];
        for (var b = 0; b < 256; b++)
        {
            pairs[2 * b] = CodeValues[b >> 4];
            pairs[2 * b + 1] = CodeValues[b & 15];
        }
        return tensor(pairs, [256, 2], device: device).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        packed.Dispose();
        absmax?.Dispose();
        absmaxCodes?.Dispose();
        absmaxScales?.Dispose();
        pairTable.Dispose();
    }
}
