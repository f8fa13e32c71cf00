using LoraBuild.Diagnostics;
using LoraBuild.Native;
using LoraBuild.Quantization;
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
    IQuantizedWeight? quantized;
    readonly Dictionary<string, LoraAdapterWeights> adapters = new(StringComparer.Ordinal);
    string[] active = Array.Empty<string>();
    RowAdapterRouting? routing;
    WeightCopies? copies;

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
    /// <summary>The dense weight; empty (0 elements) while the layer is stored quantised (NF4 or int8).</summary>
    public Parameter Weight => weight;
    public IQuantizedWeight? Quantized => quantized;
    public bool IsQuantized => quantized is not null;

    /// <summary>Bytes the frozen base weight occupies (quantised codes and constants, or the dense tensor).</summary>
    public long BaseWeightBytes => quantized?.StorageBytes ?? weight.numel() * weight.ElementSize;

    /// <summary>Stores the frozen weight quantised (NF4 for QLoRA, int8 for an 8-bit base) and frees the dense copy.</summary>
    public void Quantize(BaseQuantization scheme)
    {
        if (quantized is not null) return;
        quantized = scheme.Quantize(weight);
        using (no_grad()) weight.set_(empty(0, dtype: weight.dtype, device: weight.device));
    }

    /// <summary>
    /// Stores <paramref name="dense"/> (this layer's weight, read from a checkpoint) quantised without ever writing it
    /// into the dense parameter, whose storage is released untouched: loading a quantised base leaves no dense pages behind.
    /// </summary>
    public void QuantizeFrom(Tensor dense, BaseQuantization scheme)
    {
        if (!dense.shape.SequenceEqual(weight.shape))
            throw new ArgumentException($"Weight of shape [{string.Join(", ", dense.shape)}] for a [{string.Join(", ", weight.shape)}] layer.", nameof(dense));
        quantized?.Dispose();
        quantized = scheme.Quantize(dense);
        using (no_grad()) weight.set_(empty(0, dtype: weight.dtype, device: weight.device));
    }

    /// <summary>Back to a dense weight holding dequant(Q(W)) (the values training saw).</summary>
    public void Dequantize()
    {
        if (quantized is null) return;
        using var dense = quantized.Dequantize(weight.dtype);
        using (no_grad()) weight.set_(dense.clone());
        quantized.Dispose();
        quantized = null;
    }

    /// <summary>The frozen base weight in <paramref name="dtype"/>: dense, or dequantised.</summary>
    public Tensor BaseWeight(ScalarType dtype) =>
        quantized is not null ? quantized.Dequantize(dtype) : weight.dtype == dtype ? weight.alias() : weight.to_type(dtype);
    public Parameter? Bias => bias;

    /// <summary>Adapters' trainable full copies of this layer's weight (modules_to_save, the output head only); the
    /// active one replaces the frozen weight.</summary>
    public WeightCopies Copies => copies ??= new WeightCopies(Models.CausalLM.OutputHeadName);

    /// <summary>The weight this layer multiplies by in <paramref name="dtype"/>: the active adapter's copy, else the frozen base.</summary>
    public Tensor WeightInUse(ScalarType dtype) =>
        copies?.Active is { } copy ? copy.to_type(dtype) : BaseWeight(dtype);

    public IReadOnlyDictionary<string, LoraAdapterWeights> Adapters => adapters;
    public IReadOnlyList<string> ActiveAdapters => active;

    public void AddAdapter(string name, LoraAdapterWeights adapterWeights)
    {
        ForgetStacked();
        if (adapters.Remove(name, out var previous)) previous.Dispose();
        adapters[name] = adapterWeights;
    }

    public void RemoveAdapter(string name)
    {
        ForgetStacked();
        if (adapters.Remove(name, out var previous)) previous.Dispose();
        active = active.Where(a => a != name).ToArray();
        copies?.Remove(name);
    }

    public void SetActiveAdapters(IEnumerable<string> names)
    {
        var list = names.ToList();
        copies?.SetActive(list);
        active = list.Where(adapters.ContainsKey).ToArray();
    }

    /// <summary>Per-row adapters for the next forward passes (serving a batch of requests for different adapters); it
    /// replaces the active set while it is set. Null returns to the active set.</summary>
    public void SetRowRouting(RowAdapterRouting? rowRouting) => routing = rowRouting;

    public Tensor Forward(Tensor x)
    {
        if (routing is not null) return RoutedForward(x, routing);
        using var scope = NewDisposeScope();
        // Training through a quantised base: the quantised matmul keeps no dense weight for backward. DoRA needs the
        // dense weight for its norm anyway, so it takes the plain path.
        var quantizedMatmul = quantized is not null && copies?.Active is null && x.requires_grad && is_grad_enabled() && !active.Any(name => adapters[name].UseDora);
        var baseWeight = quantizedMatmul ? null : WeightInUse(x.dtype);
        var result = quantizedMatmul ? QuantizedLinear.Apply(x, quantized!, bias) : F.linear(x, baseWeight!, bias);
        if (active.Length == 0) return scope.MoveToOuter(result);
        foreach (var name in active)
        {
            var adapter = adapters[name];
            result = adapter.UseDora ? result.Plus(DoraDelta(x, result, baseWeight!, adapter)) : AddLora(result, x, adapter);
        }
        return scope.MoveToOuter(result);
    }

    /// <summary>Base output for every row, then each adapter's term added to its own rows only (inference: no dropout).</summary>
    Tensor RoutedForward(Tensor x, RowAdapterRouting rows)
    {
        using var scope = NewDisposeScope();
        if (x.shape[0] != rows.RowCount)
            throw new ArgumentException($"Routing for {rows.RowCount} rows, input has {x.shape[0]}.", nameof(x));
        // A weight copy (modules_to_save) replaces the whole layer for its rows: served only when every row applies it.
        var copy = rows.WholeBatch is { } all && copies?.ByAdapter.TryGetValue(all, out var wholeCopy) == true ? wholeCopy : null;
        if (copy is null && copies is { } held && rows.Present.FirstOrDefault(held.ByAdapter.ContainsKey) is { } mixed)
            throw new LoraBuildException(ErrorCodes.AdapterUnsupported,
                $"Adapter '{mixed}' replaces {Models.CausalLM.OutputHeadName} (modules_to_save) and cannot share a batch with other rows; serve it alone.");
        var baseWeight = copy is null ? BaseWeight(x.dtype) : copy.to_type(x.dtype);
        var result = F.linear(x, baseWeight, bias);
        if (rows.WholeBatch is { } every)
        {
            if (adapters.TryGetValue(every, out var whole))
                result = whole.UseDora ? result.Plus(DoraDelta(x, result, baseWeight, whole)) : AddLora(result, x, whole);
            return scope.MoveToOuter(result);
        }
        var layout = new List<(string Adapter, int Rank, double Scaling)>();
        foreach (var name in rows.Present)
        {
            if (!adapters.TryGetValue(name, out var adapter)) continue;
            if (!adapter.UseDora)
            {
                layout.Add((name, adapter.Rank, adapter.Scaling));
                continue;
            }
            var index = rows.RowsOf(name);
            var xs = x.index_select(0, index);
            var rs = result.index_select(0, index);
            result = result.index_copy(0, index, rs.Plus(DoraDelta(xs, rs, baseWeight, adapter)));
        }
        if (layout.Count > 0)
        {
            var (stackedA, stackedB) = Stacked(layout, x.dtype);
            var down = F.linear(x, stackedA);
            var scales = rows.RowScales(layout, x.dtype);
            down = down.mul(down.dim() == 3 ? scales.unsqueeze(1) : scales).reshape(-1, stackedA.shape[0]);
            result = result.reshape(-1, result.shape[^1]).addmm(down, stackedB.t()).view(result.shape);
        }
        return scope.MoveToOuter(result);
    }

    (string Key, Tensor A, Tensor B)? stacked;

    /// <summary>[A₁;…;Aₙ] [Σr, in] and [B₁ … Bₙ] [out, Σr] of the LoRA adapters in <paramref name="layout"/>, kept while
    /// the same adapters share batches (rebuilt when the mix changes or an adapter is added or removed).</summary>
    (Tensor A, Tensor B) Stacked(IReadOnlyList<(string Adapter, int Rank, double Scaling)> layout, ScalarType dtype)
    {
        var key = $"{dtype}|{string.Join("|", layout.Select(l => l.Adapter))}";
        if (stacked is { } hit && hit.Key == key) return (hit.A, hit.B);
        ForgetStacked();
        using var scope = NewDisposeScope();
        var a = cat(layout.Select(l => adapters[l.Adapter].LoraA.to_type(dtype)).ToArray(), 0).detach();
        var b = cat(layout.Select(l => adapters[l.Adapter].LoraB.to_type(dtype)).ToArray(), 1).detach();
        stacked = (key, a.DetachFromDisposeScope(), b.DetachFromDisposeScope());
        return (stacked.Value.A, stacked.Value.B);
    }

    void ForgetStacked()
    {
        if (stacked is not { } old) return;
        old.A.Dispose();
        old.B.Dispose();
        stacked = null;
    }

    Tensor Dropout(Tensor x, LoraAdapterWeights adapter) =>
        training && adapter.Dropout > 0 ? F.dropout(x, adapter.Dropout, training: true) : x;

    /// <summary>result + s·B·A·x in one GEMM: addmm adds to the base output and applies the scale as its alpha.</summary>
    Tensor AddLora(Tensor result, Tensor x, LoraAdapterWeights adapter)
    {
        var input = Dropout(x, adapter);
        var a = adapter.LoraA.to_type(x.dtype);
        var b = adapter.LoraB.to_type(x.dtype);
        var down = F.linear(input, a).reshape(-1, a.shape[0]);
        var flat = result.reshape(-1, result.shape[^1]);
        return flat.addmm(down, b.t(), beta: 1, alpha: (float)adapter.Scaling).view(result.shape);
    }

    /// <summary>
    /// DoRA (PEFT): m / ||W + s·B·A||_row rescales base and LoRA outputs; the norm is detached, as the DoRA paper
    /// (section 4.3) and PEFT do, so it gets no gradient.
    /// </summary>
    Tensor DoraDelta(Tensor x, Tensor resultSoFar, Tensor baseWeight, LoraAdapterWeights adapter)
    {
        var a = adapter.LoraA.to_type(x.dtype);
        var b = adapter.LoraB.to_type(x.dtype);
        Tensor weightNorm;
        using (no_grad())
        {
            weightNorm = DoraWeightNorm(baseWeight, a, b, adapter.Scaling);
        }
        var scale = (adapter.Magnitude!.to_type(x.dtype) / weightNorm).view(1, -1);
        var droppedOut = training && adapter.Dropout > 0;
        var input = Dropout(x, adapter);
        var baseResult = droppedOut ? F.linear(input, baseWeight) : bias is null ? resultSoFar : resultSoFar.sub(bias);
        var loraResult = F.linear(F.linear(input, a), b);
        return scale.Minus(1).mul(baseResult).Plus(scale.mul(loraResult).Times(adapter.Scaling));
    }

    /// <summary>Row norms of W + s·B·A: DoRA's magnitude at initialisation and its normaliser in forward and merge.</summary>
    public static Tensor DoraWeightNorm(Tensor weight, Tensor loraA, Tensor loraB, double scaling)
    {
        using var scope = NewDisposeScope();
        var combined = weight.Plus(matmul(loraB, loraA).Times(scaling));
        return scope.MoveToOuter(combined.norm(1, keepdim: false, p: 2));
    }

    /// <summary>The merged weight W' = W + s·B·A, or for DoRA (m / ||W + s·B·A||) ⊙ (W + s·B·A).</summary>
    public Tensor MergedWeight(string adapterName)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var adapter = adapters[adapterName];
        var computeType = ScalarType.Float32;
        var w = BaseWeight(computeType);
        var a = adapter.LoraA.to_type(computeType);
        var b = adapter.LoraB.to_type(computeType);
        var merged = w.Plus(matmul(b, a).Times(adapter.Scaling));
        if (adapter.UseDora)
        {
            var norm = merged.norm(1, keepdim: false, p: 2);
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
            ForgetStacked();
            quantized?.Dispose();
            copies?.Dispose();
        }
        base.Dispose(disposing);
    }
}
