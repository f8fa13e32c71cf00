using LoraBuild.Diagnostics;
using LoraBuild.Templating;
using LoraBuild.Templating.Jinja;

namespace LoraBuild.Runtime;

/// <summary>
/// A conversation rendered through the model's own chat template, as transformers'
/// <c>apply_chat_template(messages, tokenize=False, add_generation_prompt=True)</c> renders it (tools and documents
/// None, the special-token strings of tokenizer_config.json). The text it renders already holds its special tokens, so
/// it is encoded with none added.
/// </summary>
public sealed class ChatPrompt
{
    readonly ChatTemplateSource source;
    readonly JinjaTemplate? template;

    public ChatPrompt(ChatTemplateSource source)
    {
        this.source = source;
        template = source.Template is null ? null : source.Parse();
    }

    public bool IsAvailable => template is not null;

    /// <param name="messages">Role and text of each message, in order.</param>
    public string Render(IReadOnlyList<(string Role, string Content)> messages)
    {
        if (template is null)
            throw new LoraBuildException(ErrorCodes.ServeNoChatTemplate,
                $"The model has no chat template ({source.Origin} has no chat_template and there is no {ChatTemplateSource.JinjaFile} beside it): " +
                "add one, or send a raw prompt (completions, or the chat client's raw prompt format).", source.Origin);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in source.SpecialTokens) variables[key] = value;
        variables["messages"] = messages.Select(m => (object?)new OrderedDictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role, ["content"] = m.Content }).ToList();
        variables["tools"] = null;
        variables["documents"] = null;
        variables["add_generation_prompt"] = true;
        try
        {
            return template.RenderText(variables);
        }
        catch (TemplateException e)
        {
            throw new LoraBuildException(ErrorCodes.ChatTemplateRender, $"the chat template ({source.Origin}) failed at its line {e.Line}: {e.Message}", source.Origin);
        }
    }
}
