using TorchSharp;
using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// HF rotary embedding (default, linear and llama3 rope types): inverse frequencies computed in float32 as
/// transformers' ROPE_INIT_FUNCTIONS do, cos/sin of position x frequency duplicated across the two halves.
/// </summary>
public sealed class RotaryEmbedding : nn.Module
{
    readonly Tensor inv_freq;

    public RotaryEmbedding(RopeParameters rope, int headDim, Device device) : base(nameof(RotaryEmbedding))
    {
        inv_freq = ComputeInverseFrequencies(rope, (int)(headDim * rope.PartialRotaryFactor)).to(device);
        RegisterComponents();
    }

    public static Tensor ComputeInverseFrequencies(ModelConfig config) => ComputeInverseFrequencies(config.Rope, config.RotaryDim);

    public static Tensor ComputeInverseFrequencies(RopeParameters rope, int dim)
    {
        using var scope = NewDisposeScope();
        using var end = dim.ToScalar();
        var exponents = arange(OwnedScalars.Zero, end, OwnedScalars.Two, dtype: ScalarType.Int64).to_type(ScalarType.Float32).DividedBy((long)dim);
        var invFreq = pow(tensor((float)rope.Theta), exponents).Dividing(1.0f);
        switch (rope.Type)
        {
            case "linear":
                invFreq = invFreq.DividedBy((float)rope.Factor);
                break;
            case "llama3":
                invFreq = Llama3Scaling(invFreq, rope);
                break;
        }
        return scope.MoveToOuter(invFreq);
    }

    static Tensor Llama3Scaling(Tensor invFreq, RopeParameters rope)
    {
        var oldContext = (double)rope.OriginalMaxPositionEmbeddings;
        var lowFreqWavelen = oldContext / rope.LowFreqFactor;
        var highFreqWavelen = oldContext / rope.HighFreqFactor;
        var wavelen = invFreq.Dividing(2 * Math.PI);
        var scaled = where(wavelen.GreaterThan(lowFreqWavelen), invFreq.DividedBy(rope.Factor), invFreq);
        var smooth = wavelen.Dividing(oldContext).Minus(rope.LowFreqFactor).DividedBy(rope.HighFreqFactor - rope.LowFreqFactor);
        var smoothed = smooth.SubtractedFrom(1).mul(scaled).DividedBy(rope.Factor).Plus(smooth.mul(scaled));
        var isMedium = wavelen.AtLeast(highFreqWavelen).logical_and(wavelen.AtMost(lowFreqWavelen));
        return where(isMedium, smoothed, scaled);
    }

    /// <summary>
    /// cos and the signed sin, each [batch, seq, rotary_dim], for integer positions [batch, seq]. The sin's first half
    /// is negated, so that rotate_half(x)·sin = roll(x, rotary_dim/2)·signed_sin (see <see cref="Apply"/>).
    /// </summary>
    public (Tensor Cos, Tensor SignedSin) Forward(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * inv_freq.view(1, 1, -1);
        var cos = cat([freqs, freqs], -1).cos().to_type(dtype);
        var sin = freqs.sin();
        var signedSin = cat([-sin, sin], -1).to_type(dtype);
        return (scope.MoveToOuter(cos), scope.MoveToOuter(signedSin));
    }

    /// <summary>
    /// HF's q·cos + rotate_half(q)·sin on the first rotary_dim channels (Phi-3 may rotate only part of each head).
    /// rotate_half's negated-half concatenation is one roll against the signed sin, and the sum one addcmul: three
    /// kernels forward and no zero-filled slice gradients backward, where narrow/neg/cat/mul/mul/add took six and four.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor signedSin)
    {
        using var scope = NewDisposeScope();
        var rotaryDim = cos.shape[^1];
        var c = cos.unsqueeze(1);
        var s = signedSin.unsqueeze(1);
        if (rotaryDim == x.shape[^1])
            return scope.MoveToOuter(Rotate(x, c, s));
        var rotated = x.narrow(-1, 0, rotaryDim);
        var passThrough = x.narrow(-1, rotaryDim, x.shape[^1] - rotaryDim);
        return scope.MoveToOuter(cat([Rotate(rotated, c, s), passThrough], -1));
    }

    static Tensor Rotate(Tensor x, Tensor cos, Tensor signedSin) => addcmul(x * cos, x.roll(x.shape[^1] / 2, -1), signedSin, OwnedScalars.One);
}
