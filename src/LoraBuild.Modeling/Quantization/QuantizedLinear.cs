using LoraBuild.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Quantization;

/// <summary>
/// x · dequant(W)ᵀ (+ bias) for a frozen quantised weight (NF4 or int8), in the manner of bitsandbytes' 4-bit matmul:
/// autograd keeps only the quantised weight (resident anyway), not the dequantised copy a plain linear would save for
/// its input gradient; backward dequantises again. Without this, QLoRA training holds a dense copy of every base weight
/// until backward and saves almost no memory over LoRA.
/// </summary>
public sealed class QuantizedLinear : autograd.SingleTensorFunction<QuantizedLinear>
{
    public override string Name => nameof(QuantizedLinear);

    public static Tensor Apply(Tensor input, IQuantizedWeight weight, Tensor? bias)
    {
        var output = bias is null ? apply(input, weight) : apply(input, weight, bias);
        AutogradOutputCache.Release();
        return output;
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight) = ((Tensor)vars[0], (IQuantizedWeight)vars[1]);
        var bias = vars.Length > 2 ? (Tensor)vars[2] : null;
        ctx.save_data("weight", weight);
        ctx.save_data("dtype", input.dtype);
        ctx.save_data("hasBias", bias is not null);
        using var dense = weight.Dequantize(input.dtype);
        var output = F.linear(input, dense, bias);
        AutogradOutputCache.Prepare(ctx);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        try
        {
            using var dense = ((IQuantizedWeight)ctx.get_data("weight")).Dequantize((ScalarType)ctx.get_data("dtype"));
            var inputGrad = gradOutput.matmul(dense);
            // The base weight and bias are frozen: no gradient for them.
            return (bool)ctx.get_data("hasBias") ? [inputGrad, null!, null!] : [inputGrad, null!];
        }
        finally
        {
            gradOutput.Dispose();
        }
    }
}
