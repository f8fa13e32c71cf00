namespace LoraBuild.Runtime.Engine;

/// <summary>
/// Scheduling limits: at most <see cref="MaxBatchSize"/> requests run together; each engine step prefills at most
/// <see cref="PrefillChunkTokens"/> prompt tokens in all (the oldest waiting prompts first, a chunk each) beside the
/// running requests' decode, so a long prompt never stalls the requests already generating (vLLM's chunked prefill with
/// its max_num_batched_tokens budget).
/// </summary>
public sealed record EngineOptions(int MaxBatchSize = 32, int PrefillChunkTokens = 64);
