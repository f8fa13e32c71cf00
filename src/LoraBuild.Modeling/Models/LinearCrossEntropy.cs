using LoraBuild.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// The output head and HF's causal-LM cross-entropy in one autograd node, over chunks of rows, so that the
/// [batch x seq x vocab] float32 logits never exist at once. Forward computes, per chunk, the head GEMM, the loss
/// (log-sum-exp minus the target logit, in float32 as HF's upcast does) and the loss's gradient with respect to the
/// hidden states (softmax - one-hot, times the head weight), and keeps only that [rows, hidden] gradient; backward
/// scales it by the incoming gradient. A head weight that requires grad (full fine-tuning) gets its gradient
/// accumulated over chunks in float32.
/// </summary>
public sealed class LinearCrossEntropy : autograd.SingleTensorFunction<LinearCrossEntropy>
{
    /// <summary>Float32 logits one chunk may hold: 256 MiB, e.g. 2,097 rows of a 32,000-token vocabulary.</summary>
    public const long DefaultChunkBytes = 256L << 20;

    public override string Name => nameof(LinearCrossEntropy);

    /// <summary>
    /// The token cross-entropies (float32) of <c>hidden · headWeightᵀ</c> against <paramref name="labels"/> shifted left
    /// by one (the last position has no target), -100 ignored, summed and divided by <paramref name="divisor"/> (the
    /// step's predicted-token count gives the mean): <c>CausalLM.TokenLossSum(linear(hidden, headWeight), labels) / divisor</c>.
    /// The divisor is applied to the float32 logit gradients before they are rounded to the compute dtype, as autograd
    /// would; scaling a bf16 gradient afterwards would round twice. A <paramref name="softcap"/> (Gemma 2's final-logit
    /// soft-capping) turns each logit z into cap * tanh(z / cap) first, in float32, and its gradient into
    /// (1 - tanh²) times the capped logit's.
    /// </summary>
    public static Tensor Loss(Tensor hidden, Tensor headWeight, Tensor labels, double divisor = 1, long chunkBytes = DefaultChunkBytes, double? softcap = null)
    {
        using var scope = NewDisposeScope();
        var (batch, length) = (labels.shape[0], labels.shape[1]);
        // Row (b, t) predicts labels[b, t + 1]; the last position of each sequence predicts nothing.
        var targets = cat([labels.narrow(1, 1, length - 1), full(batch, 1, OwnedScalars.IgnoredLabel, dtype: ScalarType.Int64, device: labels.device)], 1).reshape(-1);
        var chunkRows = Math.Max(1, chunkBytes / (4 * headWeight.shape[0]));
        return scope.MoveToOuter(apply(hidden, headWeight, targets, chunkRows, divisor, softcap ?? 0.0));
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (hidden, weight, targets, chunkRows, divisor) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (long)vars[3], (double)vars[4]);
        var cap = (double)vars[5];
        // The run's numbers as native scalars, owned until the last kernel that reads them has returned (docs/native.md).
        using var capScalar = cap.ToScalar();
        using var divisorScalar = divisor.ToScalar();
        var rows = hidden.reshape(-1, hidden.shape[^1]);
        var hiddenNeedsGrad = hidden.requires_grad;
        var weightNeedsGrad = weight.requires_grad;
        var hiddenGrad = hiddenNeedsGrad ? empty_like(rows) : null;
        var weightGrad = weightNeedsGrad ? zeros(weight.shape, ScalarType.Float32, weight.device) : null;
        var loss = zeros(1, ScalarType.Float32, hidden.device);
        var count = rows.shape[0];
        for (long start = 0; start < count; start += chunkRows)
        {
            using var chunk = NewDisposeScope();
            var size = Math.Min(chunkRows, count - start);
            var input = rows.narrow(0, start, size);
            var target = targets.narrow(0, start, size);
            var logits = input.matmul(weight.t()).to_type(ScalarType.Float32);
            Tensor? tanhOfScaled = null;
            if (cap > 0)
            {
                tanhOfScaled = logits.div_(capScalar).tanh_();
                logits = tanhOfScaled.mul(capScalar);
            }
            var ignored = target.eq(OwnedScalars.IgnoredLabel);
            var safeTarget = target.masked_fill(ignored, OwnedScalars.Zero).unsqueeze(1);
            var logSumExp = logits.logsumexp(1, keepdim: true);
            var tokenLoss = (logSumExp - logits.gather(1, safeTarget)).masked_fill_(ignored.unsqueeze(1), OwnedScalars.Zero);
            loss.PlusInPlace(tokenLoss.sum());
            if (hiddenGrad is null && weightGrad is null) continue;

            // d(loss)/d(logits) = (softmax - one-hot) / divisor, zero on ignored rows; rounded to the compute dtype for
            // the GEMMs, as autograd's backward of the upcast would hand it on.
            var logitsGrad = logits.sub_(logSumExp).exp_();
            logitsGrad.scatter_add_(1, safeTarget, full_like(safeTarget, OwnedScalars.MinusOne, ScalarType.Float32));
            logitsGrad.masked_fill_(ignored.unsqueeze(1), OwnedScalars.Zero).div_(divisorScalar);
            if (tanhOfScaled is not null) logitsGrad.mul_(tanhOfScaled.Squared().SubtractedFrom(1));
            var gradInCompute = logitsGrad.to_type(weight.dtype);
            hiddenGrad?.narrow(0, start, size).copy_(gradInCompute.matmul(weight));
            weightGrad?.PlusInPlace(gradInCompute.t().matmul(input));
        }
        ctx.save_for_backward([hiddenGrad!, weightGrad!]);
        ctx.save_data("hiddenShape", hidden.shape);
        ctx.save_data("weightType", weight.dtype);
        return loss.div_(divisorScalar).squeeze(0);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        try
        {
            var scale = gradOutput.to_type(ScalarType.Float32);
            Tensor? hiddenGrad = null, weightGrad = null;
            if (saved[0] is { } h)
            {
                // The incoming gradient is 1 when the loss is used as it is; anything else is applied in float32.
                using var scaled = h.to_type(ScalarType.Float32).mul_(scale);
                hiddenGrad = scaled.to_type(h.dtype).view((long[])ctx.get_data("hiddenShape"));
            }
            if (saved[1] is { } w)
            {
                using var scaled = w.mul(scale);
                weightGrad = scaled.to_type((ScalarType)ctx.get_data("weightType"));
            }
            scale.Dispose();
            return [hiddenGrad!, weightGrad!, null!, null!, null!, null!];
        }
        finally
        {
            foreach (var t in saved) t?.Dispose();
            gradOutput.Dispose();
        }
    }
}
