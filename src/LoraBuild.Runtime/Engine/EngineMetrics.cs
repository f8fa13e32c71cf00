using System.Collections.Concurrent;

namespace LoraBuild.Runtime.Engine;

/// <summary>Counters of one adapter (or the base), updated by the engine thread, read by anyone.</summary>
public sealed class AdapterCounters
{
    long requests, finished, cancelled, promptTokens, generatedTokens;
    public long Requests => Interlocked.Read(ref requests);
    public long Finished => Interlocked.Read(ref finished);
    public long Cancelled => Interlocked.Read(ref cancelled);
    public long PromptTokens => Interlocked.Read(ref promptTokens);
    public long GeneratedTokens => Interlocked.Read(ref generatedTokens);
    internal void Submitted() => Interlocked.Increment(ref requests);
    internal void Ended(GenerationResult result)
    {
        Interlocked.Increment(ref result.FinishReason == GenerationFinishReason.Cancelled ? ref cancelled : ref finished);
        Interlocked.Add(ref promptTokens, result.PromptTokens);
        Interlocked.Add(ref generatedTokens, result.OutputTokens);
    }
}

/// <summary>What the engine has done (vLLM's request/token counters and queue gauges), per adapter name ("base" too).</summary>
public sealed class EngineMetrics
{
    readonly ConcurrentDictionary<string, AdapterCounters> adapters = new(StringComparer.Ordinal);
    long steps, decodedRows, timeToFirstTokenTicks, firstTokens;

    public IReadOnlyDictionary<string, AdapterCounters> Adapters => adapters;
    public int Waiting { get; internal set; }
    public int Running { get; internal set; }
    public long Steps => Interlocked.Read(ref steps);
    /// <summary>Rows decoded over all steps: divided by <see cref="Steps"/>, the mean batch size.</summary>
    public long DecodedRows => Interlocked.Read(ref decodedRows);
    public long FirstTokens => Interlocked.Read(ref firstTokens);
    public TimeSpan TimeToFirstTokenTotal => TimeSpan.FromTicks(Interlocked.Read(ref timeToFirstTokenTicks));

    internal AdapterCounters For(string adapter) => adapters.GetOrAdd(adapter, _ => new AdapterCounters());
    internal void Step(int rows)
    {
        Interlocked.Increment(ref steps);
        Interlocked.Add(ref decodedRows, rows);
    }
    internal void FirstToken(TimeSpan elapsed)
    {
        Interlocked.Increment(ref firstTokens);
        Interlocked.Add(ref timeToFirstTokenTicks, elapsed.Ticks);
    }
}
