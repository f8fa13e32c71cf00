using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Native;

/// <summary>
/// Tensor arithmetic whose native scalars always have an owner (docs/native.md, "Native scalars"). TorchSharp's
/// conveniences — <c>a + b</c> (an alpha of 1), <c>x * 0.5</c>, <c>x.add_(y)</c>, <c>x.square()</c> — make a Scalar that
/// only the raw handle passed to libtorch refers to; the GC may finalize it, freeing the value, while libtorch still
/// reads it. Here the constants are statics (never collected) and a value's Scalar is held by <c>using</c> until the
/// native call has returned. LBA0001/LBA0002 (src/LoraBuild.Analyzers) refuse the conveniences at build time.
/// </summary>
public static class OwnedScalars
{
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar MinusOne = (-1).ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    /// <summary>HF's ignore_index: a label that is not learned.</summary>
    public static readonly Scalar IgnoredLabel = (-100L).ToScalar();
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a + value.</summary>
    public static Tensor Plus(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.add(scalar, One);
    }

    /// <summary>a + value, an integer (an integer tensor stays integer).</summary>
    public static Tensor Plus(this Tensor a, long value)
    {
        using var scalar = value.ToScalar();
        return a.add(scalar, One);
    }

    /// <summary>a * value, an integer (an integer tensor stays integer).</summary>
    public static Tensor Times(this Tensor a, long value)
    {
        using var scalar = value.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>a - value.</summary>
    public static Tensor Minus(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.sub(scalar);
    }

    /// <summary>value - a.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.neg().add_(scalar, One);
    }

    /// <summary>a * value.</summary>
    public static Tensor Times(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>a *= value.</summary>
    public static Tensor TimesInPlace(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.mul_(scalar);
    }

    /// <summary>a / value.</summary>
    public static Tensor DividedBy(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.div(scalar);
    }

    /// <summary>a /= value.</summary>
    public static Tensor DividedByInPlace(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.div_(scalar);
    }

    /// <summary>value / a, elementwise, as PyTorch's and TorchSharp's scalar-by-tensor division: value * (1 / a).</summary>
    public static Tensor Dividing(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.reciprocal().mul_(scalar);
    }

    /// <summary>a², as TorchSharp's square() computes it (pow with an exponent of 2), with an owned exponent.</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary>a &gt; value, elementwise.</summary>
    public static Tensor GreaterThan(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.gt(scalar);
    }

    /// <summary>a &gt;= value, elementwise.</summary>
    public static Tensor AtLeast(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.ge(scalar);
    }

    /// <summary>a &lt;= value, elementwise.</summary>
    public static Tensor AtMost(this Tensor a, double value)
    {
        using var scalar = value.ToScalar();
        return a.le(scalar);
    }

    /// <summary>a with <paramref name="mask"/>'s positions set to <paramref name="value"/>.</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, double value)
    {
        using var scalar = value.ToScalar();
        return a.masked_fill(mask, scalar);
    }

    /// <summary>In place: <paramref name="mask"/>'s positions set to <paramref name="value"/>.</summary>
    public static Tensor MaskedFillInPlace(this Tensor a, Tensor mask, double value)
    {
        using var scalar = value.ToScalar();
        return a.masked_fill_(mask, scalar);
    }

    /// <summary>start, start + 1, ..., end - 1 (int64), on <paramref name="device"/>.</summary>
    public static Tensor Range(long start, long end, Device? device = null)
    {
        using var from = start.ToScalar();
        using var to = end.ToScalar();
        return arange(from, to, One, ScalarType.Int64, device);
    }
}
