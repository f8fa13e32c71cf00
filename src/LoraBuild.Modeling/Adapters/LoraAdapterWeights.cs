using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>
/// One adapter's trainable tensors on one linear layer, in PEFT's shapes: A [r, in], B [out, r], and for DoRA the
/// magnitude vector [out]. <see cref="Scaling"/> is alpha/r (or alpha/sqrt(r) with rsLoRA).
/// </summary>
public sealed class LoraAdapterWeights : IDisposable
{
    public LoraAdapterWeights(Parameter loraA, Parameter loraB, Parameter? magnitude, double scaling, double dropout, int rank, double alpha)
    {
        LoraA = loraA;
        LoraB = loraB;
        Magnitude = magnitude;
        Scaling = scaling;
        Dropout = dropout;
        Rank = rank;
        Alpha = alpha;
    }

    public Parameter LoraA { get; }
    public Parameter LoraB { get; }
    public Parameter? Magnitude { get; }
    public double Scaling { get; }
    public double Dropout { get; }
    public int Rank { get; }
    public double Alpha { get; }
    public bool UseDora => Magnitude is not null;

    public IEnumerable<Parameter> Parameters()
    {
        yield return LoraA;
        yield return LoraB;
        if (Magnitude is not null) yield return Magnitude;
    }

    public void Dispose()
    {
        LoraA.Dispose();
        LoraB.Dispose();
        Magnitude?.Dispose();
    }
}
