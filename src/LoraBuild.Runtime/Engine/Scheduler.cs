using System.Collections.Concurrent;

namespace LoraBuild.Runtime.Engine;

/// <summary>
/// Which requests run in the next engine step (vLLM's scheduler, reduced to what one CPU/GPU process needs): requests
/// wait in arrival order; the oldest waiting one is prefilled one chunk per step while the batch has room; running
/// requests all decode one token per step. Requests join and leave the running batch only between steps.
/// </summary>
sealed class Scheduler(EngineOptions options)
{
    readonly ConcurrentQueue<GenerationRequest> arrivals = new();
    readonly LinkedList<GenerationRequest> waiting = new();
    readonly List<GenerationRequest> running = [];

    public int Waiting => waiting.Count + arrivals.Count;
    public int Running => running.Count;
    public bool HasWork => !arrivals.IsEmpty || waiting.Count > 0 || running.Count > 0;

    /// <summary>Thread-safe: any caller may submit.</summary>
    public void Enqueue(GenerationRequest request) => arrivals.Enqueue(request);

    /// <summary>The next step's work: prefill chunks (oldest first, <see cref="EngineOptions.PrefillChunkTokens"/> in
    /// all) and every running request's decode.</summary>
    public (IReadOnlyList<(GenerationRequest Request, int Tokens)> Prefills, IReadOnlyList<GenerationRequest> Decode) Plan()
    {
        while (arrivals.TryDequeue(out var request)) waiting.AddLast(request);
        var prefills = new List<(GenerationRequest, int)>();
        var budget = options.PrefillChunkTokens;
        foreach (var request in waiting)
        {
            if (budget == 0 || running.Count + prefills.Count >= options.MaxBatchSize) break;
            var chunk = Math.Min(budget, request.Prompt.Count - request.Prefilled);
            prefills.Add((request, chunk));
            budget -= chunk;
        }
        return (prefills, running.ToList());
    }

    /// <summary>A request whose prompt is fully prefilled (and whose first token was taken) starts decoding. One that
    /// already finished (its first token was a stop token, or its only one) joins too, so the next sweep releases it.</summary>
    public void Promote(GenerationRequest request)
    {
        waiting.Remove(request);
        running.Add(request);
    }

    /// <summary>Removes finished and cancelled requests (those cancelled are finished here), returning them for disposal.</summary>
    public IReadOnlyList<GenerationRequest> Sweep()
    {
        while (arrivals.TryDequeue(out var request)) waiting.AddLast(request);
        var done = new List<GenerationRequest>();
        foreach (var request in running.Concat(waiting).ToList())
        {
            if (!request.IsFinished && request.Cancellation.IsCancellationRequested) request.Finish(GenerationFinishReason.Cancelled);
            if (!request.IsFinished) continue;
            done.Add(request);
            running.Remove(request);
            waiting.Remove(request);
        }
        return done;
    }

    /// <summary>Everything still held (engine shutdown).</summary>
    public IReadOnlyList<GenerationRequest> DrainAll()
    {
        while (arrivals.TryDequeue(out var request)) waiting.AddLast(request);
        var all = running.Concat(waiting).ToList();
        running.Clear();
        waiting.Clear();
        return all;
    }
}
