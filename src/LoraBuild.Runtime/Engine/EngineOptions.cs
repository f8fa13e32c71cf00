namespace LoraBuild.Runtime.Engine;

/// <summary>
/// Scheduling limits: at most <see cref="MaxBatchSize"/> requests decode together; a prompt is prefilled
/// <see cref="PrefillChunkTokens"/> tokens per engine step, between decode steps, so a long prompt never stalls the
/// requests already generating (vLLM's chunked prefill).
/// </summary>
public sealed record EngineOptions(int MaxBatchSize = 32, int PrefillChunkTokens = 64);
