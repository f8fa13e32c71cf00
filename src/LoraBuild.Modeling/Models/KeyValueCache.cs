using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>Keys and values of past positions, one entry per layer, [batch, kv_heads, seq, head_dim].</summary>
public sealed class KeyValueCache : IDisposable
{
    readonly Tensor?[] keys;
    readonly Tensor?[] values;

    public KeyValueCache(int layers)
    {
        keys = new Tensor?[layers];
        values = new Tensor?[layers];
    }

    /// <summary>Positions cached before the current forward pass (read it before the layers append).</summary>
    public long Length => keys[0]?.shape[2] ?? 0;

    /// <summary>Appends this step's keys and values and returns the full sequences (owned by the cache).</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor newKeys, Tensor newValues)
    {
        var k = keys[layer] is { } oldK ? cat([oldK, newKeys], 2) : newKeys.alias();
        var v = values[layer] is { } oldV ? cat([oldV, newValues], 2) : newValues.alias();
        keys[layer]?.Dispose();
        values[layer]?.Dispose();
        keys[layer] = k.DetachFromDisposeScope();
        values[layer] = v.DetachFromDisposeScope();
        return (k, v);
    }

    public void Dispose()
    {
        foreach (var t in keys) t?.Dispose();
        foreach (var t in values) t?.Dispose();
        Array.Clear(keys);
        Array.Clear(values);
    }
}
