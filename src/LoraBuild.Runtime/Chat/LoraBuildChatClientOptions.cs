namespace LoraBuild.Runtime.Chat;

/// <summary>
/// Defaults of a <see cref="LoraBuildChatClient"/>: the adapter a request uses when <c>ChatOptions.ModelId</c> names
/// none (<c>base</c>: no adapter), the prompt format, and the token limit when <c>MaxOutputTokens</c> is not set.
/// </summary>
public sealed class LoraBuildChatClientOptions
{
    public string DefaultModelId { get; set; } = AdapterHost.BaseOnly;
    public PromptFormat PromptFormat { get; set; } = PromptFormat.ChatTemplate;
    public int DefaultMaxOutputTokens { get; set; } = 256;
}
