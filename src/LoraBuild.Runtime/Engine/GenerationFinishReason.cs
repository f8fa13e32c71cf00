namespace LoraBuild.Runtime.Engine;

/// <summary>Why a request stopped: an end-of-sequence token or stop sequence, its token limit, or its caller.</summary>
public enum GenerationFinishReason
{
    Stop,
    Length,
    Cancelled,
}
