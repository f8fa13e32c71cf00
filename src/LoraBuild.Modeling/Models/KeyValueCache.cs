using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// Keys and values of past positions, one entry per layer. Each layer's positions live in a buffer
/// [batch, capacity, kv_heads, head_dim] that doubles when full, so a decoding step writes one position instead of
/// copying the whole cache. A sliding-window layer keeps only the last window - 1 positions (all a later query can
/// see), as HF's sliding-window caches do, so its memory stays bounded however long the generation runs.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    const long InitialCapacity = 64;

    readonly Tensor?[] keys;
    readonly Tensor?[] values;
    readonly long[] held;
    readonly long[] dropped;
    readonly int?[] windows;

    public KeyValueCache(int layers)
    {
        keys = new Tensor?[layers];
        values = new Tensor?[layers];
        held = new long[layers];
        dropped = new long[layers];
        windows = new int?[layers];
    }

    /// <summary>Positions seen before the current forward pass (read it before the layers append).</summary>
    public long Length => dropped[0] + held[0];

    /// <summary>Positions layer <paramref name="layer"/> keeps for later steps (a sliding layer drops those outside its window).</summary>
    public long Held(int layer) => windows[layer] is { } w ? Math.Min(held[layer], w - 1) : held[layer];

    /// <summary>
    /// Appends this step's keys and values [batch, kv_heads, new, head_dim] and returns every key and value this step
    /// attends over, [batch, kv_heads, positions, head_dim] views of the cache, with the position of the first (positions
    /// before it were dropped). With a <paramref name="window"/>, only the last window - 1 positions are kept for later steps.
    /// </summary>
    public (Tensor Keys, Tensor Values, long FirstPosition) Append(int layer, Tensor newKeys, Tensor newValues, int? window = null)
    {
        var count = Write(layer, newKeys.transpose(1, 2), newValues.transpose(1, 2), window);
        return (keys[layer]!.narrow(1, 0, count).transpose(1, 2), values[layer]!.narrow(1, 0, count).transpose(1, 2), dropped[layer]);
    }

    /// <summary>
    /// For a batch-1 cache: appends one row's keys and values [new, kv_heads, head_dim] and returns every position this
    /// step attends over as sequence-major views [positions, kv_heads, head_dim] (what a padded batch is built from).
    /// </summary>
    public (Tensor Keys, Tensor Values, long FirstPosition) AppendSequence(int layer, Tensor newKeys, Tensor newValues, int? window = null)
    {
        var count = Write(layer, newKeys.unsqueeze(0), newValues.unsqueeze(0), window);
        return (keys[layer]!.select(0, 0).narrow(0, 0, count), values[layer]!.select(0, 0).narrow(0, 0, count), dropped[layer]);
    }

    /// <summary>Writes [batch, new, kv_heads, head_dim] after the held positions; returns how many positions are held now.</summary>
    long Write(int layer, Tensor newKeys, Tensor newValues, int? window)
    {
        windows[layer] = window;
        // A sliding layer drops what fell out of its window now, not in the step that attended over it (that step's
        // views read the buffer after Append returned).
        if (window is { } w && held[layer] > w - 1)
        {
            var drop = held[layer] - (w - 1);
            Shift(keys[layer]!, drop, w - 1);
            Shift(values[layer]!, drop, w - 1);
            held[layer] = w - 1;
            dropped[layer] += drop;
        }
        var count = held[layer] + newKeys.shape[1];
        keys[layer] = Reserve(keys[layer], newKeys, held[layer], count);
        values[layer] = Reserve(values[layer], newValues, held[layer], count);
        keys[layer]!.narrow(1, held[layer], newKeys.shape[1]).copy_(newKeys);
        values[layer]!.narrow(1, held[layer], newValues.shape[1]).copy_(newValues);
        held[layer] = count;
        return count;
    }

    static void Shift(Tensor buffer, long from, long count)
    {
        using var kept = buffer.narrow(1, from, count).clone();
        using var front = buffer.narrow(1, 0, count);
        front.copy_(kept);
    }

    /// <summary>The buffer, grown (doubling) to hold <paramref name="needed"/> positions, its first <paramref name="used"/> kept.</summary>
    static Tensor Reserve(Tensor? buffer, Tensor like, long used, long needed)
    {
        if (buffer is not null && buffer.shape[1] >= needed) return buffer;
        var capacity = Math.Max(needed, Math.Max(InitialCapacity, 2 * (buffer?.shape[1] ?? 0)));
        var grown = empty([like.shape[0], capacity, like.shape[2], like.shape[3]], like.dtype, like.device).DetachFromDisposeScope();
        if (buffer is not null)
        {
            using var target = grown.narrow(1, 0, used);
            using var source = buffer.narrow(1, 0, used);
            target.copy_(source);
            buffer.Dispose();
        }
        return grown;
    }

    public void Dispose()
    {
        foreach (var t in keys) t?.Dispose();
        foreach (var t in values) t?.Dispose();
        Array.Clear(keys);
        Array.Clear(values);
        Array.Clear(held);
        Array.Clear(dropped);
    }
}
