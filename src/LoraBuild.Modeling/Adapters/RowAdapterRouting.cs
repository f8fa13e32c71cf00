using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>
/// Which adapter each row of a batch applies (multi-LoRA serving, as Punica's BGMV / S-LoRA gather the LoRA products
/// per row). LoRA rows of different adapters share one product per layer: x·[A₁;…;Aₙ]ᵀ, each row's columns kept only
/// for its own adapter and scaled by it (<see cref="RowScales"/>), then ·[B₁ … Bₙ]ᵀ; the zeros add nothing. DoRA needs
/// each adapter's own weight norm, so its rows are grouped (<see cref="Groups"/>). Base rows get no LoRA term.
/// </summary>
public sealed class RowAdapterRouting : IDisposable
{
    readonly List<(string Adapter, Tensor Rows)> groups = [];
    readonly Dictionary<string, Tensor> rowScales = new(StringComparer.Ordinal);
    readonly Device device;

    /// <param name="rowAdapters">Per batch row: its adapter name, or null for the base model.</param>
    public RowAdapterRouting(IReadOnlyList<string?> rowAdapters, Device device)
    {
        this.device = device;
        RowAdapters = rowAdapters;
        RowCount = rowAdapters.Count;
        Present = rowAdapters.OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        // An adapter that every row uses needs nothing per row (a lone request, or a batch of one adapter).
        if (Present.Count == 1 && rowAdapters.All(a => a is not null)) WholeBatch = Present[0];
    }

    public int RowCount { get; }
    public IReadOnlyList<string?> RowAdapters { get; }

    /// <summary>The adapters some row applies, in ordinal order.</summary>
    public IReadOnlyList<string> Present { get; }

    /// <summary>The adapter every row applies, if one does.</summary>
    public string? WholeBatch { get; }

    /// <summary>Rows (indices, dimension 0) of one adapter, for layers that apply it group by group.</summary>
    public Tensor RowsOf(string adapter)
    {
        foreach (var (name, rows) in groups)
            if (name == adapter) return rows;
        var index = tensor(Enumerable.Range(0, RowCount).Where(i => RowAdapters[i] == adapter).Select(i => (long)i).ToArray(), ScalarType.Int64, device)
            .DetachFromDisposeScope();
        groups.Add((adapter, index));
        return index;
    }

    /// <summary>
    /// [rows, Σ ranks] for adapters stacked in <paramref name="layout"/> order: a row's columns hold its adapter's
    /// scaling, every other column 0. Shared by every layer with the same layout during this step.
    /// </summary>
    public Tensor RowScales(IReadOnlyList<(string Adapter, int Rank, double Scaling)> layout, ScalarType dtype)
    {
        var key = $"{dtype}|{string.Join("|", layout.Select(l => $"{l.Adapter}:{l.Rank}:{l.Scaling:R}"))}";
        if (rowScales.TryGetValue(key, out var cached)) return cached;
        var width = layout.Sum(l => l.Rank);
        var values = new float[RowCount * width];
        for (var row = 0; row < RowCount; row++)
        {
            var column = 0;
            foreach (var (adapter, rank, scaling) in layout)
            {
                if (RowAdapters[row] == adapter) Array.Fill(values, (float)scaling, row * width + column, rank);
                column += rank;
            }
        }
        var scales = tensor(values, [RowCount, width], ScalarType.Float32, device).to_type(dtype).DetachFromDisposeScope();
        rowScales[key] = scales;
        return scales;
    }

    public void Dispose()
    {
        foreach (var (_, rows) in groups) rows.Dispose();
        foreach (var scales in rowScales.Values) scales.Dispose();
        groups.Clear();
        rowScales.Clear();
    }
}
