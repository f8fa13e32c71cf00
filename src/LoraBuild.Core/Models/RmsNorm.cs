using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>HF LlamaRMSNorm: normalise in float32, scale by weight in the input dtype.</summary>
public sealed class RmsNorm : nn.Module
{
    readonly Parameter weight;
    readonly double eps;

    public RmsNorm(long size, double eps, ScalarType dtype, Device device) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size, dtype, device), requires_grad: false);
        this.eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var inputType = hidden.dtype;
        var x = hidden.to_type(ScalarType.Float32);
        var variance = x.pow(2).mean([-1L], keepdim: true);
        x = x * rsqrt(variance + eps);
        return scope.MoveToOuter(weight * x.to_type(inputType));
    }
}
