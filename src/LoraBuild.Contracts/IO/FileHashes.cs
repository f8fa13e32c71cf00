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
        // Through a link (the HF cache's snapshots/ -> blobs/): the size and time of the content itself.
        var info = LinkedFiles.Resolve(full);
        var key = full;
        if (Memory.TryGetValue(key, out var hit) && hit.Size == info.Length && hit.Ticks == info.LastWriteTimeUtc.Ticks) return hit.Sha256;
        var disk = LoadCache();
        if (disk.TryGetValue(key, out var stored) && stored.Size == info.Length && stored.Ticks == info.LastWriteTimeUtc.Ticks)
        {
            Memory[key] = stored;
            return stored.Sha256;
        }
        var hash = Sha256Uncached(full);
        var entry = new Entry(info.Length, info.LastWriteTimeUtc.Ticks, hash);
        Memory[key] = entry;
        lock (Gate)
        {
            try
            {
                // Read-merge-write under a lock file, so concurrent builds (other processes) never drop each other's entries.
                using var fileLock = AcquireLock();
                var latest = LoadCache();
                latest[key] = entry;
                AtomicFile.WriteAllText(CacheFile, JsonSerializer.Serialize(latest));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A cache that cannot be written only costs a re-hash next time.
            }
        }
        return hash;
    }

    /// <summary>The file's SHA-256 from its bytes, never from the cache.</summary>
    public static string Sha256Uncached(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }

    /// <summary>An exclusive lock on file-hashes.json.lock (flock underneath; released if the holder dies), waited for up to 30 s.</summary>
    static FileStream AcquireLock()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return new FileStream(CacheFile + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    /// <summary>The cache file's entries; unreadable or damaged content (null entries, wrong types) counts as no cache.</summary>
    static Dictionary<string, Entry> LoadCache()
    {
        try
        {
            if (!File.Exists(CacheFile)) return new();
            var entries = JsonSerializer.Deserialize<Dictionary<string, Entry?>>(File.ReadAllText(CacheFile));
            return entries is null
                ? new()
                : entries.Where(e => e.Value is { Sha256.Length: 64 }).ToDictionary(e => e.Key, e => e.Value!);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or InvalidOperationException)
        {
            return new();
        }
    }
}
