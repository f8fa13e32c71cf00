namespace LoraBuild.Runtime.Chat;

/// <summary>How the chat client turns messages into the model's prompt.</summary>
public enum PromptFormat
{
    /// <summary>The model's chat template (an error, LB0312, when the model has none); encoded with no special tokens added.</summary>
    ChatTemplate,

    /// <summary>The messages' text concatenated, as a raw prompt encoded with the tokenizer's special tokens: for adapters
    /// trained on plain prompt/completion pairs (no template).</summary>
    Raw,
}
