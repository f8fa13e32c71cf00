namespace LoraBuild.Cli.Serving;

/// <summary>What one `lorabuild serve` accepts: body bytes, tokens per request (prompt and completion), and requests in
/// flight at once (more get 429 rather than an unbounded queue).</summary>
public sealed record ServeLimits(long MaxBodyBytes = 1 << 20, int MaxTokens = 2048, int DefaultMaxTokens = 256, int MaxPromptTokens = 8192,
    int MaxConcurrentRequests = 256);
