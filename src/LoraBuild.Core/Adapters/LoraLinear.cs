using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Adapters;

/// <summary>
/// A frozen linear layer (HF names: <c>weight</c> [out, in], optional <c>bias</c>) that can carry any number of named
/// LoRA/DoRA adapters, of which a subset is active. With no active adapter it is exactly <c>F.linear</c>; adapters can be
/// added, switched and removed without touching the base weight (PEFT's lora.Linear and DoraLinearLayer semantics).
/// </summary>
public sealed class LoraLinear : nn.Module
{
    readonly Parameter weight;
    readonly Parameter? bias;
    readonly Dictionary<string, LoraAdapterWeights> adapters = new(StringComparer.Ordinal);
    string[] active = Array.Empty<string>();

    public LoraLinear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device)
        : this(new Parameter(empty(outFeatures, inFeatures, dtype, device), requires_grad: false),
               hasBias ? new Parameter(zeros(outFeatures, dtype, device), requires_grad: false) : null)
    {
    }

    /// <summary>Over an existing weight, e.g. lm_head over embed_tokens.weight when embeddings are tied.</summary>
    public LoraLinear(Parameter weight, Parameter? bias) : base(nameof(LoraLinear))
    {
        this.weight = weight;
        this.bias = bias;
        InFeatures = weight.shape[1];
        OutFeatures = weight.shape[0];
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public IReadOnlyDictionary<string, LoraAdapterWeights> Adapters => adapters;
    public IReadOnlyList<string> ActiveAdapters => active;

    public void AddAdapter(string name, LoraAdapterWeights adapterWeights)
    {
        if (adapters.Remove(name, out var previous)) previous.Dispose();
        adapters[name] = adapterWeights;
    }

    public void RemoveAdapter(string name)
    {
        if (adapters.Remove(name, out var previous)) previous.Dispose();
        active = active.Where(a => a != name).ToArray();
    }

    public void SetActiveAdapters(IEnumerable<string> names) => active = names.Where(adapters.ContainsKey).ToArray();

    public Tensor Forward(Tensor x)
    {
        if (active.Length == 0) return F.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        var result = F.linear(x, weight, bias);
        foreach (var name in active)
        {
            var adapter = adapters[name];
            result = adapter.UseDora ? result + DoraDelta(x, result, adapter) : result + LoraDelta(x, adapter);
        }
        return scope.MoveToOuter(result);
    }

    Tensor Dropout(Tensor x, LoraAdapterWeights adapter) =>
        training && adapter.Dropout > 0 ? F.dropout(x, adapter.Dropout, training: true) : x;

    Tensor LoraDelta(Tensor x, LoraAdapterWeights adapter)
    {
        var input = Dropout(x, adapter);
        var a = adapter.LoraA.to_type(x.dtype);
        var b = adapter.LoraB.to_type(x.dtype);
        return F.linear(F.linear(input, a), b) * adapter.Scaling;
    }

    /// <summary>
    /// DoRA (PEFT): m / ||W + s·B·A||_row rescales base and LoRA outputs; the norm is detached, as the DoRA paper
    /// (section 4.3) and PEFT do, so it gets no gradient.
    /// </summary>
    Tensor DoraDelta(Tensor x, Tensor resultSoFar, LoraAdapterWeights adapter)
    {
        var a = adapter.LoraA.to_type(x.dtype);
        var b = adapter.LoraB.to_type(x.dtype);
        Tensor weightNorm;
        using (no_grad())
        {
            weightNorm = DoraWeightNorm(weight.to_type(x.dtype), a, b, adapter.Scaling);
        }
        var scale = (adapter.Magnitude!.to_type(x.dtype) / weightNorm).view(1, -1);
        var droppedOut = training && adapter.Dropout > 0;
        var input = Dropout(x, adapter);
        var baseResult = droppedOut ? F.linear(input, weight) : bias is null ? resultSoFar : resultSoFar - bias;
        var loraResult = F.linear(F.linear(input, a), b);
        return (scale - 1) * baseResult + scale * loraResult * adapter.Scaling;
    }

    /// <summary>Row norms of W + s·B·A: DoRA's magnitude at initialisation and its normaliser in forward and merge.</summary>
    public static Tensor DoraWeightNorm(Tensor weight, Tensor loraA, Tensor loraB, double scaling)
    {
        using var scope = NewDisposeScope();
        var combined = weight + scaling * matmul(loraB, loraA);
        return scope.MoveToOuter(linalg.vector_norm(combined, 2, [1L]));
    }

    /// <summary>The merged weight W' = W + s·B·A, or for DoRA (m / ||W + s·B·A||) ⊙ (W + s·B·A).</summary>
    public Tensor MergedWeight(string adapterName)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var adapter = adapters[adapterName];
        var computeType = ScalarType.Float32;
        var w = weight.to_type(computeType);
        var a = adapter.LoraA.to_type(computeType);
        var b = adapter.LoraB.to_type(computeType);
        var merged = w + adapter.Scaling * matmul(b, a);
        if (adapter.UseDora)
        {
            var norm = linalg.vector_norm(merged, 2, [1L]);
            merged = (adapter.Magnitude!.to_type(computeType) / norm).view(-1, 1) * merged;
        }
        return scope.MoveToOuter(merged.to_type(weight.dtype));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var adapter in adapters.Values) adapter.Dispose();
            adapters.Clear();
        }
        base.Dispose(disposing);
    }
}
