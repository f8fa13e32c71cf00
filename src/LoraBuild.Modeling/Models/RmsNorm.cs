using LoraBuild.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// HF LlamaRMSNorm (normalise in float32, scale by weight in the input dtype) or, for <see cref="NormStyle.UnitOffset"/>,
/// Gemma's (normalise and scale by 1 + weight, both in float32, then cast back).
/// </summary>
public sealed class RmsNorm : nn.Module
{
    readonly Parameter weight;
    readonly double eps;
    readonly NormStyle style;

    public RmsNorm(long size, double eps, ScalarType dtype, Device device, NormStyle style = NormStyle.Scale) : base(nameof(RmsNorm))
    {
        this.style = style;
        using var identity = IdentityWeight.ToScalar();
        weight = new Parameter(full(size, identity, dtype, device), requires_grad: false);
        this.eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <summary>The weight value that leaves normalised activations unscaled (HF's initial value).</summary>
    public double IdentityWeight => style == NormStyle.UnitOffset ? 0.0 : 1.0;

    /// <summary>LORABUILD_FAST_RMSNORM=0 keeps HF's float32 round trip in training too (for A/B measurements).</summary>
    static readonly bool FastHalfPrecision = Environment.GetEnvironmentVariable("LORABUILD_FAST_RMSNORM") != "0";

    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var inputType = hidden.dtype;
        if (style == NormStyle.UnitOffset)
        {
            var normalised = hidden.to_type(ScalarType.Float32);
            normalised = normalised * rsqrt(normalised.pow(OwnedScalars.Two).mean([-1L], keepdim: true).Plus(eps));
            return scope.MoveToOuter((normalised * weight.to_type(ScalarType.Float32).Plus(1.0)).to_type(inputType));
        }
        if (inputType != ScalarType.Float32 && training && FastHalfPrecision)
        {
            // Training on bf16/fp16 activations: the mean of squares accumulates in float32, but no float32 copy of the
            // activations is made (HF's round trip reads and writes each activation four more times, forward and
            // backward; ~10% of a tinyllama step on an H100). Inference keeps HF's exact semantics below.
            var meanSquare = hidden.Squared().mean([-1L], keepdim: true, type: ScalarType.Float32);
            var inverse = rsqrt(meanSquare.Plus(eps)).to_type(inputType);
            return scope.MoveToOuter(weight * (hidden * inverse));
        }
        var x = hidden.to_type(ScalarType.Float32);
        var variance = x.pow(OwnedScalars.Two).mean([-1L], keepdim: true);
        x = x * rsqrt(variance.Plus(eps));
        return scope.MoveToOuter(weight * x.to_type(inputType));
    }
}
