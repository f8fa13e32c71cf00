using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// Keys and values of past positions, one entry per layer, [batch, kv_heads, seq, head_dim]. A sliding-window layer
/// keeps only the last window - 1 positions (all a later query can see), as HF's sliding-window caches do, so its
/// memory stays bounded however long the generation runs.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    readonly Tensor?[] keys;
    readonly Tensor?[] values;
    readonly long[] dropped;

    public KeyValueCache(int layers)
    {
        keys = new Tensor?[layers];
        values = new Tensor?[layers];
        dropped = new long[layers];
    }

    /// <summary>Positions seen before the current forward pass (read it before the layers append).</summary>
    public long Length => dropped[0] + (keys[0]?.shape[2] ?? 0);

    /// <summary>Positions layer <paramref name="layer"/> holds (a sliding layer drops those outside its window).</summary>
    public long Held(int layer) => keys[layer]?.shape[2] ?? 0;

    /// <summary>
    /// Appends this step's keys and values and returns every key and value this step attends over, with the position of
    /// the first (positions before it were dropped). With a <paramref name="window"/>, only the last window - 1
    /// positions are kept for later steps.
    /// </summary>
    public (Tensor Keys, Tensor Values, long FirstPosition) Append(int layer, Tensor newKeys, Tensor newValues, int? window = null)
    {
        var first = dropped[layer];
        var k = keys[layer] is { } oldK ? cat([oldK, newKeys], 2) : newKeys.alias();
        var v = values[layer] is { } oldV ? cat([oldV, newValues], 2) : newValues.alias();
        keys[layer]?.Dispose();
        values[layer]?.Dispose();
        var count = k.shape[2];
        if (window is { } w && count > w - 1)
        {
            var drop = count - (w - 1);
            keys[layer] = k.narrow(2, drop, w - 1).contiguous().DetachFromDisposeScope();
            values[layer] = v.narrow(2, drop, w - 1).contiguous().DetachFromDisposeScope();
            dropped[layer] += drop;
        }
        else
        {
            keys[layer] = k.alias().DetachFromDisposeScope();
            values[layer] = v.alias().DetachFromDisposeScope();
        }
        return (k, v, first);
    }

    public void Dispose()
    {
        foreach (var t in keys) t?.Dispose();
        foreach (var t in values) t?.Dispose();
        Array.Clear(keys);
        Array.Clear(values);
        Array.Clear(dropped);
    }
}
