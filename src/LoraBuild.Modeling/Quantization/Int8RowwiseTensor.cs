using LoraBuild.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Quantization;

/// <summary>
/// A frozen weight [out, in] stored as int8 with one float32 absmax per output row, as bitsandbytes' <c>Int8Params</c>
/// quantises a linear weight for LLM.int8() (<c>int8_vectorwise_quant</c>: code = round(w · 127 / absmax_row),
/// <c>SCB</c> = absmax_row; dequantised as code · absmax_row / 127). Only the weight storage is bitsandbytes'; the matmul
/// here is float over the dequantised weight, with no int8 activations and no outlier decomposition (weight-only int8).
/// </summary>
public sealed class Int8RowwiseTensor : IQuantizedWeight
{
    public const int MaxCode = 127;
    // Owned for the process (docs/native.md): passed to libtorch on every quantisation.
    static readonly Scalar MinAbsmax = 1e-12f.ToScalar();
    static readonly Scalar MinCode = (-MaxCode).ToScalar();
    static readonly Scalar MaxCodeScalar = MaxCode.ToScalar();

    readonly Tensor codes;   // int8 [out, in]
    readonly Tensor absmax;  // float32 [out]

    Int8RowwiseTensor(long[] shape, Tensor codes, Tensor absmax)
    {
        Shape = shape;
        this.codes = codes;
        this.absmax = absmax;
    }

    public long[] Shape { get; }
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long StorageBytes => codes.numel() + absmax.numel() * 4;

    /// <summary>The int8 codes [out, in] (a view; the tensor stays owned by this weight).</summary>
    public Tensor Codes => codes.alias();
    /// <summary>The per-row absmax [out] (bitsandbytes' SCB).</summary>
    public Tensor RowAbsmax => absmax.alias();

    public static Int8RowwiseTensor Quantize(Tensor weight)
    {
        if (weight.dim() != 2) throw new ArgumentException($"A linear weight [out, in] is 2-D; got {weight.dim()}-D.", nameof(weight));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight.detach().to_type(ScalarType.Float32);
        var rowAbsmax = w.abs().amax([1L]);
        // An all-zero row keeps absmax 0 (dequantises to zeros); the clamp only avoids 0/0 for its codes.
        var scale = full_like(rowAbsmax, MaxCodeScalar).div_(rowAbsmax.clamp_min(MinAbsmax)).unsqueeze(1);
        // In place after the first product: one dense float32 temporary per weight, not three.
        var quantised = w.mul(scale).round_().clamp_(MinCode, MaxCodeScalar).to_type(ScalarType.Int8).contiguous();
        return new Int8RowwiseTensor(weight.shape, quantised.MoveToOuterDisposeScope(), rowAbsmax.contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>code · absmax / 127 in float32, then cast: two kernels over the weight (widen-and-scale, cast).</summary>
    public Tensor Dequantize(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rowScale = absmax.div(MaxCodeScalar).unsqueeze(1);
        var dense = codes.to_type(ScalarType.Float32).mul_(rowScale);
        return scope.MoveToOuter(dtype == ScalarType.Float32 ? dense : dense.to_type(dtype));
    }

    public void Dispose()
    {
        codes.Dispose();
        absmax.Dispose();
    }
}
