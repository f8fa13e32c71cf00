using System.Threading.Channels;

namespace LoraBuild.Runtime.Engine;

/// <summary>The outcome of a finished request: why it stopped, and its token counts.</summary>
public sealed record GenerationResult(GenerationFinishReason FinishReason, int PromptTokens, int OutputTokens);

/// <summary>
/// A submitted request as its caller sees it: token ids as the engine produces them (the channel completes when the
/// request ends) and the result. Cancelling the token the request was submitted with ends it at the next token boundary.
/// </summary>
public sealed class GenerationHandle
{
    internal GenerationHandle(ChannelReader<int> tokens, Task<GenerationResult> completion)
    {
        Tokens = tokens;
        Completion = completion;
    }

    public ChannelReader<int> Tokens { get; }
    public Task<GenerationResult> Completion { get; }
}
