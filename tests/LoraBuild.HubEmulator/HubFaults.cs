using System.Collections.Concurrent;

namespace LoraBuild.HubEmulator;

/// <summary>Faults a test arms; each is consumed by the requests it hits, so "503 then success" is FailNext(..., 1).</summary>
public sealed class HubFaults
{
    readonly ConcurrentDictionary<string, int> failures = new();
    readonly ConcurrentDictionary<string, (long AfterBytes, int Times)> cuts = new();
    readonly ConcurrentDictionary<string, int> corruptions = new();

    /// <summary>The next <paramref name="count"/> requests whose path contains <paramref name="pathPart"/> answer <paramref name="status"/>.</summary>
    public void FailNext(string pathPart, int count = 1, int status = 503) => failures[pathPart + "|" + status] = count;

    /// <summary>The next <paramref name="times"/> transfers of a file (repo path) drop the connection after <paramref name="afterBytes"/> bytes.</summary>
    public void CutAfter(string filePath, long afterBytes, int times = 1) => cuts[filePath] = (afterBytes, times);

    /// <summary>Every transfer of any file drops the connection after this many bytes (the benchmark's cut every 100 MB); 0 = never.</summary>
    public long CutEveryBytes { get; set; }

    /// <summary>The next <paramref name="times"/> transfers of a file serve one byte flipped (a bad proxy, a bit flip).</summary>
    public void Corrupt(string filePath, int times = 1) => corruptions[filePath] = times;

    /// <summary>Delays each body chunk (so concurrent downloads overlap in tests).</summary>
    public TimeSpan ChunkDelay { get; set; }

    internal int? TakeFailure(string requestPath)
    {
        foreach (var (key, count) in failures)
        {
            var split = key.LastIndexOf('|');
            if (count <= 0 || !requestPath.Contains(key[..split], StringComparison.Ordinal)) continue;
            if (failures.TryUpdate(key, count - 1, count)) return int.Parse(key[(split + 1)..]);
        }
        return null;
    }

    internal long? TakeCut(string filePath)
    {
        if (cuts.TryGetValue(filePath, out var cut) && cut.Times > 0 && cuts.TryUpdate(filePath, (cut.AfterBytes, cut.Times - 1), cut))
            return cut.AfterBytes;
        return CutEveryBytes > 0 ? CutEveryBytes : null;
    }

    internal bool TakeCorruption(string filePath) =>
        corruptions.TryGetValue(filePath, out var n) && n > 0 && corruptions.TryUpdate(filePath, n - 1, n);
}

/// <summary>
/// A request as the emulator saw it: which host (hub or cdn), whether it carried a token, and the status answered. Logged
/// when it arrives, its status set just before the answer leaves, so a client never sees an answer the log lacks.
/// </summary>
public sealed record HubRequest(string Host, string Method, string Path, string? Authorization, string? Range)
{
    public int Status { get; internal set; }
}
