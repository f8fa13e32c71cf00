using System.Collections.Concurrent;

namespace LoraBuild.Cli.Serving;

/// <summary>HTTP-side counters: responses by endpoint and status, and requests in flight.</summary>
public sealed class ServerCounters
{
    readonly ConcurrentDictionary<(string Endpoint, int Status), long> responses = new();
    int inFlight;

    public int InFlight => Volatile.Read(ref inFlight);
    public IReadOnlyDictionary<(string Endpoint, int Status), long> Responses => responses;

    public bool TryEnter(int limit)
    {
        if (Interlocked.Increment(ref inFlight) <= limit) return true;
        Interlocked.Decrement(ref inFlight);
        return false;
    }

    public void Leave() => Interlocked.Decrement(ref inFlight);
    public void Responded(string endpoint, int status) => responses.AddOrUpdate((endpoint, status), 1, (_, n) => n + 1);
}
