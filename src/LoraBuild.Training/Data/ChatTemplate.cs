using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data;

/// <summary>
/// Renders chat messages as (text, trainable) segments. Recognises the two template families most chat models ship —
/// ChatML (Qwen2, many fine-tunes) and Llama 3 — from tokenizer_config.json's <c>chat_template</c>; with no template it
/// uses ChatML markers as plain text (the documented default). Only assistant turns (content and end marker) are trainable.
/// </summary>
public sealed class ChatTemplate
{
    readonly Func<string, string> header;
    readonly string endOfTurn;

    ChatTemplate(string name, Func<string, string> header, string endOfTurn, string prefix = "")
    {
        Name = name;
        this.header = header;
        this.endOfTurn = endOfTurn;
        Prefix = prefix;
    }

    public string Name { get; }
    public string Prefix { get; }

    public static readonly ChatTemplate ChatMl = new("chatml", role => $"<|im_start|>{role}\n", "<|im_end|>\n");
    public static readonly ChatTemplate Llama3 = new("llama3", role => $"<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>", "<|begin_of_text|>");

    /// <summary>Chooses the template: an explicit name wins, then the tokenizer's template, then the ChatML default.</summary>
    public static ChatTemplate Resolve(string? requested, string? tokenizerTemplate, string source)
    {
        switch (requested)
        {
            case "chatml": return ChatMl;
            case "llama3": return Llama3;
            case null or "" or "auto": break;
            default:
                throw new LoraBuildException(ErrorCodes.ChatTemplateUnsupported, $"chat_template '{requested}' is not one of auto, chatml, llama3.", source);
        }
        if (tokenizerTemplate is null) return ChatMl;
        if (tokenizerTemplate.Contains("<|im_start|>")) return ChatMl;
        if (tokenizerTemplate.Contains("<|start_header_id|>")) return Llama3;
        throw new LoraBuildException(ErrorCodes.ChatTemplateUnsupported,
            "tokenizer_config.json's chat_template is neither ChatML nor Llama 3; set chat_template: chatml or llama3 in the adapter config.", source);
    }

    public IEnumerable<(string Text, bool Trainable)> Render(IReadOnlyList<ChatMessage> messages)
    {
        if (Prefix.Length > 0) yield return (Prefix, false);
        foreach (var message in messages)
        {
            var assistant = message.Role == "assistant";
            yield return (header(message.Role), false);
            yield return (message.Content + endOfTurn, assistant);
        }
    }

    /// <summary>The prompt a model continues to answer the conversation so far (for generation and exact-match eval).</summary>
    public string GenerationPrompt(IReadOnlyList<ChatMessage> messages) =>
        string.Concat(Render(messages).Select(s => s.Text)) + header("assistant");

    public string EndOfTurn => endOfTurn;
}
