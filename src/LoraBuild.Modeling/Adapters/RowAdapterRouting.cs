using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>
/// Which adapter each row of a batch applies (multi-LoRA serving: Punica's BGMV / S-LoRA gather the LoRA products per
/// row). Rows are grouped by adapter once per step; every LoRA layer then adds, for each group, s·B·A·x of that group's
/// rows only. Rows of the base model belong to no group and get no LoRA term.
/// </summary>
public sealed class RowAdapterRouting : IDisposable
{
    readonly List<(string Adapter, Tensor Rows)> groups = [];
    readonly List<string> wholeBatch = [];

    /// <param name="rowAdapters">Per batch row: its adapter name, or null for the base model.</param>
    public RowAdapterRouting(IReadOnlyList<string?> rowAdapters, Device device)
    {
        RowCount = rowAdapters.Count;
        foreach (var group in Enumerable.Range(0, rowAdapters.Count).Where(i => rowAdapters[i] is not null).GroupBy(i => rowAdapters[i]!, StringComparer.Ordinal))
        {
            // An adapter that every row uses needs no gather and scatter (a lone request, or a batch of one adapter).
            if (group.Count() == rowAdapters.Count) wholeBatch.Add(group.Key);
            else groups.Add((group.Key, tensor(group.Select(i => (long)i).ToArray(), ScalarType.Int64, device).DetachFromDisposeScope()));
        }
    }

    public int RowCount { get; }

    /// <summary>The adapter every row applies, if one does (then <see cref="Groups"/> is empty).</summary>
    public string? WholeBatch => wholeBatch.Count == 1 ? wholeBatch[0] : null;

    /// <summary>Each adapter present in part of the batch with the indices of its rows (dimension 0).</summary>
    public IReadOnlyList<(string Adapter, Tensor Rows)> Groups => groups;

    public void Dispose()
    {
        foreach (var (_, rows) in groups) rows.Dispose();
        groups.Clear();
    }
}
