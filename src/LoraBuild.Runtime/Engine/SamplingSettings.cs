namespace LoraBuild.Runtime.Engine;

/// <summary>
/// How one request picks its tokens: greedy when <see cref="Temperature"/> is 0, else temperature sampling within the
/// top-k tokens (0: all) and the top-p nucleus, from the request's own generator (<see cref="Seed"/>; null: random).
/// </summary>
public sealed record SamplingSettings(int MaxTokens = 64, double Temperature = 0, double TopP = 1.0, int TopK = 0, long? Seed = null)
{
    public bool IsGreedy => Temperature <= 0;
}
