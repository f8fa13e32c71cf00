namespace LoraBuild.Models;

/// <summary>
/// One key/value cache per batch row (serving: each request keeps its own cache and its own length), with the
/// positions each had seen before this forward pass (read once, before the layers append).
/// </summary>
public sealed class RowCaches
{
    public RowCaches(IReadOnlyList<KeyValueCache> caches)
    {
        Caches = caches;
        Past = caches.Select(c => c.Length).ToArray();
    }

    public IReadOnlyList<KeyValueCache> Caches { get; }
    public IReadOnlyList<long> Past { get; }
    public int Count => Caches.Count;
}
