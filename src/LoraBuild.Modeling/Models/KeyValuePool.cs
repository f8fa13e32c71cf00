using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// The key/value caches of every request a serving engine runs, as one tensor per layer [slots, capacity, kv_heads,
/// head_dim]: each request rents a slot (its own cache, as vLLM's block pool gives each sequence its own blocks), and a
/// decoding step writes all rows' new positions with one indexed write and reads all rows' keys with one gather per
/// layer, however many rows there are. Slots and capacity grow by doubling; when no slot is rented the memory is
/// released. Layers with a sliding window keep per-request caches instead (<see cref="Supports"/>).
/// </summary>
public sealed class KeyValuePool : IDisposable
{
    const long InitialCapacity = 64;
    const int InitialSlots = 4;

    readonly Tensor?[] keys;
    readonly Tensor?[] values;
    readonly long kvHeads;
    readonly long headDim;
    readonly ScalarType dtype;
    readonly Device device;
    readonly Stack<int> free = new();
    long[] lengths = [];
    int rented;

    public KeyValuePool(ModelConfig config, ScalarType dtype, Device device)
    {
        keys = new Tensor?[config.NumHiddenLayers];
        values = new Tensor?[config.NumHiddenLayers];
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        this.dtype = dtype;
        this.device = device;
    }

    /// <summary>Whether every layer attends over all past positions (no sliding window), which the pool's layout assumes.</summary>
    public static bool Supports(ModelConfig config) => Enumerable.Range(0, config.NumHiddenLayers).All(i => config.LayerSlidingWindow(i) is null);

    public int Slots => lengths.Length;
    public long Capacity => keys[0]?.shape[1] ?? 0;

    /// <summary>Positions held for <paramref name="slot"/>.</summary>
    public long Length(int slot) => lengths[slot];

    public int Rent()
    {
        if (free.Count == 0) GrowSlots(Math.Max(InitialSlots, 2 * Slots));
        var slot = free.Pop();
        lengths[slot] = 0;
        rented++;
        return slot;
    }

    public void Return(int slot)
    {
        lengths[slot] = 0;
        free.Push(slot);
        if (--rented == 0) Clear();
    }

    /// <summary>Room for <paramref name="positions"/> positions in every slot before a forward pass writes them.</summary>
    public void Reserve(long positions)
    {
        if (positions <= Capacity) return;
        Resize(Slots, Math.Max(positions, Math.Max(InitialCapacity, 2 * Capacity)));
    }

    /// <summary>After a forward pass: the slot holds <paramref name="count"/> more positions.</summary>
    public void Advance(int slot, long count) => lengths[slot] += count;

    /// <summary>
    /// Writes one new position per row, [rows, kv_heads, head_dim], each at its flat index slot·capacity + position
    /// (<see cref="FlatIndex"/>; the buffers are contiguous, so [slots·capacity, kv_heads, head_dim] is a view of them).
    /// </summary>
    public void WritePositions(int layer, Tensor flatIndex, Tensor newKeys, Tensor newValues)
    {
        keys[layer]!.view(-1, kvHeads, headDim).index_copy_(0, flatIndex, newKeys);
        values[layer]!.view(-1, kvHeads, headDim).index_copy_(0, flatIndex, newValues);
    }

    /// <summary>slot·capacity + position for each row, valid until the capacity grows (reserve first).</summary>
    public Tensor FlatIndex(Tensor slots, Tensor positions) => slots.Times(Capacity).PlusInPlace(positions);

    /// <summary>Writes a run of positions [count, kv_heads, head_dim] of one slot, starting at <paramref name="start"/>.</summary>
    public void WriteSequence(int layer, int slot, long start, Tensor newKeys, Tensor newValues)
    {
        keys[layer]!.select(0, slot).narrow(0, start, newKeys.shape[0]).copy_(newKeys);
        values[layer]!.select(0, slot).narrow(0, start, newValues.shape[0]).copy_(newValues);
    }

    /// <summary>The first <paramref name="count"/> positions of the given slots: [rows, count, kv_heads, head_dim] each.</summary>
    public (Tensor Keys, Tensor Values) Gather(int layer, Tensor slots, long count) =>
        (keys[layer]!.narrow(1, 0, count).index_select(0, slots), values[layer]!.narrow(1, 0, count).index_select(0, slots));

    /// <summary>The first <paramref name="count"/> positions of one slot, [1, count, kv_heads, head_dim] views.</summary>
    public (Tensor Keys, Tensor Values) Slot(int layer, int slot, long count) =>
        (keys[layer]!.narrow(0, slot, 1).narrow(1, 0, count), values[layer]!.narrow(0, slot, 1).narrow(1, 0, count));

    void GrowSlots(int slots)
    {
        var before = Slots;
        Resize(slots, Math.Max(Capacity, InitialCapacity));
        Array.Resize(ref lengths, slots);
        // Lowest slots first, so a small batch keeps to the front of the pool.
        for (var slot = slots - 1; slot >= before; slot--) free.Push(slot);
    }

    void Resize(int slots, long capacity)
    {
        using var _ = NewDisposeScope();
        for (var layer = 0; layer < keys.Length; layer++)
        {
            keys[layer] = Resized(keys[layer], slots, capacity);
            values[layer] = Resized(values[layer], slots, capacity);
        }
    }

    Tensor Resized(Tensor? old, int slots, long capacity)
    {
        var grown = zeros([slots, capacity, kvHeads, headDim], dtype, device).DetachFromDisposeScope();
        if (old is null) return grown;
        grown.narrow(0, 0, old.shape[0]).narrow(1, 0, old.shape[1]).copy_(old);
        old.Dispose();
        return grown;
    }

    void Clear()
    {
        foreach (var t in keys) t?.Dispose();
        foreach (var t in values) t?.Dispose();
        Array.Clear(keys);
        Array.Clear(values);
        // The slot count goes with the memory; the next burst grows again from InitialSlots.
        free.Clear();
        lengths = [];
    }

    public void Dispose()
    {
        rented = 0;
        Clear();
    }
}
