using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraBuild.IO;

namespace LoraBuild.Tests;

/// <summary>The user-cache of file hashes: damaged entries are ignored, and writers in other processes never drop entries.</summary>
public class FileHashesTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();
    readonly string? previous = Environment.GetEnvironmentVariable("LORABUILD_CACHE_DIR");

    public FileHashesTests() => Environment.SetEnvironmentVariable("LORABUILD_CACHE_DIR", Path.Combine(dir, "cache"));

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("LORABUILD_CACHE_DIR", previous);
        Directory.Delete(dir, recursive: true);
    }

    string NewFile(string content)
    {
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".bin");
        File.WriteAllText(path, content);
        return path;
    }

    static string Expected(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

    [Fact]
    public void A_null_or_damaged_entry_in_the_cache_is_ignored()
    {
        var file = NewFile("weights");
        Directory.CreateDirectory(Path.GetDirectoryName(FileHashes.CacheFile)!);
        var damaged = new JsonObject { [Path.GetFullPath(file)] = null, ["/x"] = new JsonObject { ["Size"] = 1, ["Ticks"] = 2, ["Sha256"] = null } };
        File.WriteAllText(FileHashes.CacheFile, damaged.ToJsonString());
        Assert.Equal(Expected(file), FileHashes.Sha256(file));
        var cache = JsonNode.Parse(File.ReadAllText(FileHashes.CacheFile))!.AsObject();
        Assert.Equal(Expected(file), cache[Path.GetFullPath(file)]!["Sha256"]!.GetValue<string>());

        File.WriteAllText(FileHashes.CacheFile, "[1, 2]");
        var other = NewFile("other");
        Assert.Equal(Expected(other), FileHashes.Sha256(other));
    }

    [Fact]
    public void A_writer_holding_the_cache_lock_is_waited_for_and_keeps_its_entry()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FileHashes.CacheFile)!);
        var file = NewFile("mine");
        // Another process's writer: holds the lock, then writes its entry, then releases.
        var otherWriter = new FileStream(FileHashes.CacheFile + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var hashing = Task.Run(() => FileHashes.Sha256(file));
        Thread.Sleep(300);
        Assert.False(hashing.IsCompleted && File.Exists(FileHashes.CacheFile), "wrote the cache while another writer held the lock");
        File.WriteAllText(FileHashes.CacheFile, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["/other/model.safetensors"] = new { Size = 3, Ticks = 4, Sha256 = new string('a', 64) },
        }));
        otherWriter.Dispose();
        Assert.Equal(Expected(file), hashing.Result);
        var cache = JsonNode.Parse(File.ReadAllText(FileHashes.CacheFile))!.AsObject();
        Assert.True(cache.ContainsKey("/other/model.safetensors"), "the other writer's entry was dropped");
        Assert.True(cache.ContainsKey(Path.GetFullPath(file)));
    }

    [Fact]
    public void The_uncached_hash_sees_a_same_size_rewrite_with_the_old_mtime()
    {
        var file = NewFile("AAAA");
        var cached = FileHashes.Sha256(file);
        var mtime = File.GetLastWriteTimeUtc(file);
        File.WriteAllText(file, "BBBB");
        File.SetLastWriteTimeUtc(file, mtime);
        Assert.Equal(cached, FileHashes.Sha256(file)); // the build's fast path trusts size + mtime, by design
        Assert.Equal(Expected(file), FileHashes.Sha256Uncached(file));
        Assert.NotEqual(cached, FileHashes.Sha256Uncached(file));
    }
}
