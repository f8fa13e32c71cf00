using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// The caches of a serving batch, one per row (each request keeps its own cache and its own length): either separate
/// <see cref="KeyValueCache"/>s, or slots of one <see cref="KeyValuePool"/>. <see cref="Past"/> holds the positions each
/// row had seen before this forward pass (read once, before the layers append).
/// </summary>
public sealed class RowCaches : IDisposable
{
    public RowCaches(IReadOnlyList<KeyValueCache> caches)
    {
        Caches = caches;
        Past = caches.Select(c => c.Length).ToArray();
        Count = caches.Count;
    }

    /// <summary>
    /// Rows of one position each in pool slots: first one decoding row per slot in <paramref name="decodeSlots"/>, then,
    /// for each prefill chunk, one row per prompt position (its tokens attend causally over their slot). The pool is
    /// reserved for every position written in this pass.
    /// </summary>
    public RowCaches(KeyValuePool pool, IReadOnlyList<int> decodeSlots, IReadOnlyList<(int Slot, int Count)> prefills, Device device)
    {
        Caches = [];
        Pool = pool;
        var slots = new List<int>(decodeSlots);
        var past = decodeSlots.Select(pool.Length).ToList();
        var segments = new List<PrefillSegment>();
        foreach (var (slot, count) in prefills)
        {
            segments.Add(new PrefillSegment(slots.Count, count, slot, pool.Length(slot)));
            for (var j = 0; j < count; j++)
            {
                slots.Add(slot);
                past.Add(pool.Length(slot) + j);
            }
        }
        PoolSlots = slots;
        Past = past;
        Count = slots.Count;
        DecodeRows = decodeSlots.Count;
        Prefills = segments;
        pool.Reserve(past.Max() + 1);
        SlotIndex = tensor(slots.Select(s => (long)s).ToArray(), ScalarType.Int64, device).DetachFromDisposeScope();
        PastIndex = tensor(past.ToArray(), ScalarType.Int64, device).DetachFromDisposeScope();
        using (NewDisposeScope()) PoolIndex = pool.FlatIndex(SlotIndex, PastIndex).DetachFromDisposeScope();
        if (DecodeRows > 0)
        {
            DecodeSlotIndex = SlotIndex.narrow(0, 0, DecodeRows).DetachFromDisposeScope();
            DecodePastIndex = PastIndex.narrow(0, 0, DecodeRows).DetachFromDisposeScope();
        }
    }

    /// <summary>A prefill chunk's rows: <see cref="Count"/> consecutive rows from <see cref="Start"/>, positions <see cref="Past"/> on.</summary>
    public sealed record PrefillSegment(int Start, int Count, int Slot, long Past);

    public IReadOnlyList<KeyValueCache> Caches { get; }
    public KeyValuePool? Pool { get; }
    public IReadOnlyList<int> PoolSlots { get; } = [];
    /// <summary>Pool rows: each row's slot and position, as tensors (for the indexed write of the new keys and values).</summary>
    public Tensor? SlotIndex { get; }
    public Tensor? PastIndex { get; }
    /// <summary>Each row's flat index in the pool's buffers (slot·capacity + position), where its new key and value go.</summary>
    public Tensor? PoolIndex { get; }
    /// <summary>The first <see cref="DecodeRows"/> rows decode one token each (their slots and positions, for the gather).</summary>
    public int DecodeRows { get; }
    public Tensor? DecodeSlotIndex { get; }
    public Tensor? DecodePastIndex { get; }
    public IReadOnlyList<PrefillSegment> Prefills { get; } = [];
    public IReadOnlyList<long> Past { get; }
    public int Count { get; }

    Tensor? decodeMask;

    /// <summary>The decoding rows' padding mask [rows, 1, 1, longest], built once and shared by every layer.</summary>
    public Tensor DecodePaddingMask(long longest, ScalarType dtype)
    {
        if (decodeMask is not null && decodeMask.shape[3] == longest && decodeMask.dtype == dtype) return decodeMask;
        decodeMask?.Dispose();
        decodeMask = Attention.PaddingMask(DecodePastIndex!, longest, dtype, DecodePastIndex!.device).DetachFromDisposeScope();
        return decodeMask;
    }

    /// <summary>After the forward pass: every pool row holds <paramref name="newPositions"/> more positions.</summary>
    public void Advance(long newPositions)
    {
        if (Pool is null) return;
        foreach (var slot in PoolSlots) Pool.Advance(slot, newPositions);
    }

    public void Dispose()
    {
        SlotIndex?.Dispose();
        PastIndex?.Dispose();
        PoolIndex?.Dispose();
        DecodeSlotIndex?.Dispose();
        DecodePastIndex?.Dispose();
        decodeMask?.Dispose();
    }
}
