using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;

namespace LoraBuild.IO;

/// <summary>
/// SHA-256 of file contents, cached by (full path, size, last write time) in the user cache, so a multi-gigabyte base
/// model is hashed once and a no-op build stays fast.
/// </summary>
public static class FileHashes
{
    sealed record Entry(long Size, long Ticks, string Sha256);

    static readonly ConcurrentDictionary<string, Entry> Memory = new();
    static readonly object Gate = new();

    public static string CacheFile => Path.Combine(CachePaths.Root(), "file-hashes.json");

    public static string Sha256(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        var key = full;
        if (Memory.TryGetValue(key, out var hit) && hit.Size == info.Length && hit.Ticks == info.LastWriteTimeUtc.Ticks) return hit.Sha256;
        var disk = LoadCache();
        if (disk.TryGetValue(key, out var stored) && stored.Size == info.Length && stored.Ticks == info.LastWriteTimeUtc.Ticks)
        {
            Memory[key] = stored;
            return stored.Sha256;
        }
        string hash;
        using (var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            hash = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        var entry = new Entry(info.Length, info.LastWriteTimeUtc.Ticks, hash);
        Memory[key] = entry;
        lock (Gate)
        {
            var latest = LoadCache();
            latest[key] = entry;
            try
            {
                AtomicFile.WriteAllText(CacheFile, JsonSerializer.Serialize(latest));
            }
            catch (IOException)
            {
                // A cache that cannot be written only costs a re-hash next time.
            }
        }
        return hash;
    }

    static Dictionary<string, Entry> LoadCache()
    {
        try
        {
            return File.Exists(CacheFile) ? JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllText(CacheFile)) ?? new() : new();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return new();
        }
    }
}
