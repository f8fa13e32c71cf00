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
    readonly KeyValuePool? pool;
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
        if (KeyValuePool.Supports(model.Config)) pool = new KeyValuePool(model.Config, model.DType, model.Device);
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
        // Rows of a batch share the embedding table and head; an adapter that replaces them (modules_to_save) would be
        // served wrong beside other rows, so it is refused here and served one request at a time (AdapterHost.Generate).
        if (adapter != AdapterHost.BaseOnly && ModulesToSave.Has(model, adapter))
            throw new LoraBuildException(ErrorCodes.AdapterUnsupported,
                $"Adapter '{adapter}' trains {string.Join(" and ", ModulesToSave.Parameters(model, adapter).Select(p => p.Key[LoraModel.KeyPrefix.Length..^".weight".Length]))} whole (modules_to_save): " +
                "the batching engine cannot serve it; generate with it one request at a time (AdapterHost.Generate, lorabuild generate).");
        if (promptIds.Count == 0)
            throw new LoraBuildException(ErrorCodes.ServeEmptyPrompt, "The prompt has no tokens: there is nothing to continue.");
        if (settings.MaxTokens < 1)
            throw new LoraBuildException(ErrorCodes.ServeBadSampling, $"max tokens must be at least 1 (was {settings.MaxTokens}).");
        if (fault is { } error) throw new InvalidOperationException("The generation engine stopped after an error.", error);
        ObjectDisposedException.ThrowIf(stopping.IsCancellationRequested, this);
        var request = new GenerationRequest(adapter == AdapterHost.BaseOnly ? null : adapter, promptIds, settings, pool is null ? model.Config.NumHiddenLayers : 0, cancellation);
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
        pool?.Dispose();
    }

    void Release(IReadOnlyList<GenerationRequest> done)
    {
        foreach (var request in done)
        {
            Metrics.For(request.Adapter ?? AdapterHost.BaseOnly).Ended(request.Handle.Completion.Result);
            if (request.PoolSlot >= 0) pool!.Return(request.PoolSlot);
            request.PoolSlot = -1;
            request.Dispose();
        }
    }

    void Step()
    {
        var (prefills, decode) = scheduler.Plan();
        lock (modelGate)
        {
            using var _ = no_grad();
            if (pool is not null) PooledStep(prefills, decode);
            else
            {
                foreach (var (request, chunk) in prefills) PrefillChunk(request, chunk);
                if (decode.Count > 0) Decode(decode);
            }
        }
        Metrics.Step(decode.Count);
    }

    /// <summary>
    /// One forward pass over every running request's next token and the step's prefill chunks, each prompt position a row
    /// of its own in the request's pool slot (so prefill and decode share the GEMMs, as vLLM's chunked prefill mixes
    /// them); logits only for decoding rows and for prompts whose last token is in this step.
    /// </summary>
    void PooledStep(IReadOnlyList<(GenerationRequest Request, int Tokens)> prefills, IReadOnlyList<GenerationRequest> decode)
    {
        using var scope = NewDisposeScope();
        foreach (var request in decode.Concat(prefills.Select(p => p.Request)))
            if (request.PoolSlot < 0) request.PoolSlot = pool!.Rent();
        var ids = new List<long>(decode.Select(r => (long)r.NextInput));
        var rowAdapters = new List<string?>(decode.Select(r => r.Adapter));
        var logitRows = Enumerable.Range(0, decode.Count).Select(i => (long)i).ToList();
        var completing = new List<GenerationRequest>();
        foreach (var (request, chunk) in prefills)
        {
            ids.AddRange(request.Prompt.Skip(request.Prefilled).Take(chunk).Select(i => (long)i));
            rowAdapters.AddRange(Enumerable.Repeat(request.Adapter, chunk));
            if (request.Prefilled + chunk < request.Prompt.Count) continue;
            logitRows.Add(ids.Count - 1);
            completing.Add(request);
        }
        using var caches = new RowCaches(pool!, decode.Select(r => r.PoolSlot).ToList(), prefills.Select(p => (p.Request.PoolSlot, p.Tokens)).ToList(), model.Device);
        var logits = Forward(tensor(ids.ToArray(), [ids.Count, 1]).to(model.Device), rowAdapters, caches, logitRows);
        foreach (var (request, chunk) in prefills) request.Prefilled += chunk;
        TakeTokens(logits, decode.Concat(completing).ToList(), decode.Count);
    }

    /// <summary>Samples each row's next token; rows from <paramref name="firstTokensFrom"/> on are prompts just prefilled.</summary>
    void TakeTokens(Tensor logits, IReadOnlyList<GenerationRequest> rows, int firstTokensFrom)
    {
        // Greedy rows share one argmax over the batch; sampling rows draw from their own generators.
        long[]? greedy = rows.Any(r => r.Settings.IsGreedy) ? logits.argmax(-1).cpu().data<long>().ToArray() : null;
        for (var i = 0; i < rows.Count; i++)
        {
            var token = rows[i].Settings.IsGreedy ? (int)greedy![i] : Pick(logits, i, rows[i]);
            if (i >= firstTokensFrom) Metrics.FirstToken(Stopwatch.GetElapsedTime(rows[i].SubmittedAt));
            rows[i].Accept(token, stopIds);
            if (i >= firstTokensFrom) scheduler.Promote(rows[i]);
        }
    }

    /// <summary>The next chunk of one prompt into its own cache; after the last, its first token is sampled and it starts decoding.</summary>
    void PrefillChunk(GenerationRequest request, int chunk)
    {
        using var scope = NewDisposeScope();
        var ids = request.Prompt.Skip(request.Prefilled).Take(chunk).Select(i => (long)i).ToArray();
        using var caches = new RowCaches([request.Cache!]);
        var logits = Forward(tensor(ids, [1, ids.Length]).to(model.Device), [request.Adapter], caches);
        request.Prefilled += ids.Length;
        if (request.Prefilled < request.Prompt.Count) return;
        TakeTokens(logits, [request], 0);
    }

    void Decode(IReadOnlyList<GenerationRequest> rows)
    {
        using var scope = NewDisposeScope();
        var ids = rows.Select(r => (long)r.NextInput).ToArray();
        using var caches = new RowCaches(rows.Select(r => r.Cache!).ToList());
        var logits = Forward(tensor(ids, [rows.Count, 1]).to(model.Device), rows.Select(r => r.Adapter).ToList(), caches);
        TakeTokens(logits, rows, rows.Count);
    }

    /// <summary>Logits (float32) of the last position of each row (or of <paramref name="logitRows"/>), each row with its
    /// adapter and its cache.</summary>
    Tensor Forward(Tensor inputIds, IReadOnlyList<string?> rowAdapters, RowCaches caches, IReadOnlyList<long>? logitRows = null)
    {
        using var routing = new RowAdapterRouting(rowAdapters, model.Device);
        var selected = logitRows is null || logitRows.Count == rowAdapters.Count ? null : logitRows;
        using var headRouting = selected is null ? null : new RowAdapterRouting(selected.Select(i => rowAdapters[(int)i]).ToList(), model.Device);
        using var headRows = selected is null ? null : tensor(selected.ToArray(), ScalarType.Int64, model.Device);
        // No row's adapter replaces the embedding table (refused at Submit), but one-at-a-time generation
        // (AdapterHost.Generate) may have left an adapter's copy active, which would apply to every row.
        model.Model.EmbedTokensCopies.SetActive([]);
        foreach (var layer in layers) layer.SetRowRouting(routing);
        model.LmHead.SetRowRouting(headRouting ?? routing);
        try
        {
            return model.ForwardLastRows(inputIds, caches, headRows).to_type(ScalarType.Float32);
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
