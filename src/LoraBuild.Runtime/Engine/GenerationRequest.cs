using System.Threading.Channels;
using LoraBuild.Models;
using static TorchSharp.torch;

namespace LoraBuild.Runtime.Engine;

/// <summary>One request inside the engine: its prompt, how far it is prefilled, its own KV cache and sampler state.</summary>
sealed class GenerationRequest : IDisposable
{
    readonly Channel<int> tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    readonly TaskCompletionSource<GenerationResult> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    Generator? generator;
    CancellationTokenRegistration cancelRegistration;

    /// <param name="layers">Layers of its own cache; 0 when the engine's pool holds its cache in a slot.</param>
    public GenerationRequest(string? adapter, IReadOnlyList<int> prompt, SamplingSettings settings, int layers, CancellationToken cancellation)
    {
        Adapter = adapter;
        Prompt = prompt;
        Settings = settings;
        Cancellation = cancellation;
        Cache = layers > 0 ? new KeyValueCache(layers) : null;
        Handle = new GenerationHandle(tokens.Reader, completion.Task);
    }

    /// <summary>The adapter its rows apply; null: the base model.</summary>
    public string? Adapter { get; }
    public IReadOnlyList<int> Prompt { get; }
    public SamplingSettings Settings { get; }
    public CancellationToken Cancellation { get; }
    /// <summary>Its own cache, or null when its cache is <see cref="PoolSlot"/> of the engine's pool.</summary>
    public KeyValueCache? Cache { get; }
    /// <summary>Its slot in the engine's KV pool once its prefill starts; -1 before that (or with its own cache).</summary>
    public int PoolSlot { get; set; } = -1;
    public GenerationHandle Handle { get; }
    public long SubmittedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
    public int Prefilled { get; set; }
    public int Generated { get; private set; }
    /// <summary>The token the next decode step feeds (the last one sampled).</summary>
    public int NextInput { get; private set; }
    public bool IsFinished => completion.Task.IsCompleted;

    public void OnCancel(CancellationTokenRegistration registration) => cancelRegistration = registration;

    public Generator SamplerGenerator(Device device) =>
        generator ??= new Generator((ulong)(Settings.Seed ?? Random.Shared.NextInt64()), device);

    /// <summary>Takes a sampled token: a stop id ends the request, otherwise it is emitted (and may reach the limit).</summary>
    public bool Accept(int token, IReadOnlySet<int> stopIds)
    {
        if (stopIds.Contains(token)) return Finish(GenerationFinishReason.Stop);
        Generated++;
        NextInput = token;
        tokens.Writer.TryWrite(token);
        return Generated >= Settings.MaxTokens && Finish(GenerationFinishReason.Length);
    }

    public bool Finish(GenerationFinishReason reason)
    {
        if (completion.Task.IsCompleted) return true;
        tokens.Writer.TryComplete();
        completion.TrySetResult(new GenerationResult(reason, Prompt.Count, Generated));
        return true;
    }

    public void Fail(Exception error)
    {
        tokens.Writer.TryComplete(error);
        completion.TrySetException(error);
    }

    public void Dispose()
    {
        cancelRegistration.Dispose();
        Cache?.Dispose();
        generator?.Dispose();
    }
}
