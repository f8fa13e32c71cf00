using System.Diagnostics;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using static TorchSharp.torch;

namespace LoraBuild.Runtime.Engine;

/// <summary>
/// Continuous batching over one base model and its adapters. A dedicated thread runs steps: each step prefills one chunk
/// of the oldest waiting prompt, then decodes one token for every running request in one batched forward pass in which
/// each row applies its own adapter (<see cref="RowAdapterRouting"/>; base rows none) and attends over its own KV cache.
/// Requests join and leave between steps; a cancelled request leaves at the next step.
/// </summary>
public sealed class GenerationEngine : IDisposable
{
    readonly CausalLM model;
    readonly IReadOnlySet<int> stopIds;
    readonly IReadOnlySet<string> adapters;
    readonly object modelGate;
    readonly Scheduler scheduler;
    readonly IReadOnlyList<LoraLinear> layers;
    readonly SemaphoreSlim wake = new(0);
    readonly CancellationTokenSource stopping = new();
    readonly Thread thread;
    volatile Exception? fault;

    /// <param name="modelGate">Held during each step: other users of the model (one-at-a-time generation) take turns with it.</param>
    public GenerationEngine(CausalLM model, IReadOnlySet<int> stopIds, IReadOnlySet<string> adapters, EngineOptions? options = null, object? modelGate = null)
    {
        this.model = model;
        this.stopIds = stopIds;
        this.adapters = adapters;
        this.modelGate = modelGate ?? new object();
        Options = options ?? new EngineOptions();
        scheduler = new Scheduler(Options);
        layers = model.LinearLayers().Select(l => l.Layer).ToList();
        thread = new Thread(Run) { IsBackground = true, Name = "lorabuild-engine" };
        thread.Start();
    }

    public EngineOptions Options { get; }
    public EngineMetrics Metrics { get; } = new();

    /// <summary>Queues a request; its tokens arrive on the handle as they are decoded.</summary>
    /// <param name="adapter">An adapter name, or <see cref="AdapterHost.BaseOnly"/>.</param>
    public GenerationHandle Submit(string adapter, IReadOnlyList<int> promptIds, SamplingSettings settings, CancellationToken cancellation = default)
    {
        if (adapter != AdapterHost.BaseOnly && !adapters.Contains(adapter))
            throw new LoraBuildException("LB0301", $"No adapter named '{adapter}' is loaded; loaded: {string.Join(", ", adapters.DefaultIfEmpty("none"))}.");
        if (promptIds.Count == 0)
            throw new LoraBuildException(ErrorCodes.ServeEmptyPrompt, "The prompt has no tokens: there is nothing to continue.");
        if (settings.MaxTokens < 1)
            throw new LoraBuildException(ErrorCodes.ServeBadSampling, $"max tokens must be at least 1 (was {settings.MaxTokens}).");
        if (fault is { } error) throw new InvalidOperationException("The generation engine stopped after an error.", error);
        ObjectDisposedException.ThrowIf(stopping.IsCancellationRequested, this);
        var request = new GenerationRequest(adapter == AdapterHost.BaseOnly ? null : adapter, promptIds, settings, model.Config.NumHiddenLayers, cancellation);
        Metrics.For(adapter).Submitted();
        scheduler.Enqueue(request);
        // Wake the loop on cancellation too, so a cancelled request leaves at once; the registration ends with the request.
        if (cancellation.CanBeCanceled) request.OnCancel(cancellation.Register(Wake));
        Wake();
        return request.Handle;
    }

    void Wake()
    {
        try
        {
            wake.Release();
        }
        catch (ObjectDisposedException)
        {
            // The engine has stopped; every request it held has ended.
        }
    }

    void Run()
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                Release(scheduler.Sweep());
                Metrics.Waiting = scheduler.Waiting;
                Metrics.Running = scheduler.Running;
                if (!scheduler.HasWork)
                {
                    wake.Wait(stopping.Token);
                    continue;
                }
                Step();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            fault = e;
            foreach (var request in scheduler.DrainAll()) request.Fail(e);
        }
        foreach (var request in scheduler.DrainAll())
        {
            request.Finish(GenerationFinishReason.Cancelled);
            Release([request]);
        }
    }

    void Release(IReadOnlyList<GenerationRequest> done)
    {
        foreach (var request in done)
        {
            Metrics.For(request.Adapter ?? AdapterHost.BaseOnly).Ended(request.Handle.Completion.Result);
            request.Dispose();
        }
    }

    void Step()
    {
        var (prefill, chunk, decode) = scheduler.Plan();
        lock (modelGate)
        {
            using var _ = no_grad();
            if (prefill is not null) PrefillChunk(prefill, chunk);
            if (decode.Count > 0) Decode(decode);
        }
        Metrics.Step(decode.Count);
    }

    /// <summary>The next chunk of one prompt into its cache; after the last, its first token is sampled and it starts decoding.</summary>
    void PrefillChunk(GenerationRequest request, int chunk)
    {
        using var scope = NewDisposeScope();
        var ids = request.Prompt.Skip(request.Prefilled).Take(chunk).Select(i => (long)i).ToArray();
        using var logits = Forward(tensor(ids, [1, ids.Length]).to(model.Device), [request]);
        request.Prefilled += ids.Length;
        if (request.Prefilled < request.Prompt.Count) return;
        var first = Pick(logits, 0, request);
        Metrics.FirstToken(Stopwatch.GetElapsedTime(request.SubmittedAt));
        request.Accept(first, stopIds);
        scheduler.Promote(request);
    }

    void Decode(IReadOnlyList<GenerationRequest> rows)
    {
        using var scope = NewDisposeScope();
        var ids = rows.Select(r => (long)r.NextInput).ToArray();
        var logits = Forward(tensor(ids, [rows.Count, 1]).to(model.Device), rows);
        // Greedy rows share one argmax over the batch; sampling rows draw from their own generators.
        long[]? greedy = rows.Any(r => r.Settings.IsGreedy) ? logits.argmax(-1).cpu().data<long>().ToArray() : null;
        for (var i = 0; i < rows.Count; i++)
        {
            var token = rows[i].Settings.IsGreedy ? (int)greedy![i] : Pick(logits, i, rows[i]);
            rows[i].Accept(token, stopIds);
        }
    }

    /// <summary>Logits [rows, vocab] (float32) of the last position of each row, each with its adapter and its cache.</summary>
    Tensor Forward(Tensor inputIds, IReadOnlyList<GenerationRequest> rows)
    {
        using var routing = new RowAdapterRouting(rows.Select(r => r.Adapter).ToList(), model.Device);
        foreach (var layer in layers) layer.SetRowRouting(routing);
        try
        {
            return model.ForwardLastRows(inputIds, new RowCaches(rows.Select(r => r.Cache).ToList())).to_type(ScalarType.Float32);
        }
        finally
        {
            foreach (var layer in layers) layer.SetRowRouting(null);
        }
    }

    int Pick(Tensor logits, int row, GenerationRequest request)
    {
        using var scope = NewDisposeScope();
        var rowLogits = logits.select(0, row);
        return request.Settings.IsGreedy ? (int)rowLogits.argmax().item<long>() : TokenSampler.Sample(rowLogits, request.Settings, request.SamplerGenerator(model.Device));
    }

    /// <summary>Stops the loop; requests still queued or running end as cancelled.</summary>
    public void Dispose()
    {
        if (stopping.IsCancellationRequested) return;
        stopping.Cancel();
        wake.Release();
        thread.Join();
        stopping.Dispose();
        wake.Dispose();
    }
}
