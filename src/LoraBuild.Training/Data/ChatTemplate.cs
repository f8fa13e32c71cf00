using LoraBuild.Diagnostics;
using LoraBuild.Templating;
using LoraBuild.Templating.Jinja;

namespace LoraBuild.Training.Data;

/// <summary>A rendered conversation and the character spans of its assistant turns (the text a chat example learns).</summary>
public sealed record RenderedChat(string Text, IReadOnlyList<TextSpan> AssistantSpans);

/// <summary>
/// The model's own chat template, rendered as transformers' <c>apply_chat_template</c> renders it (messages, tools=None,
/// documents=None, add_generation_prompt, the special-token strings). Assistant turns are located by the template's
/// <c>{% generation %}</c> blocks where it has them, else by rendering prefixes: turn i spans from the end of
/// messages[:i] rendered with the generation prompt to the end of messages[:i+1]. A model with no template is an error
/// at the first chat example (LB0152), never a silent ChatML.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The ChatML template (transformers' former default), for <c>chat_template: chatml</c>.</summary>
    public const string ChatMlSource =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /// <summary>Meta Llama 3 Instruct's template, for <c>chat_template: llama3</c>.</summary>
    public const string Llama3Source =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}" +
        "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

    readonly JinjaTemplate? template;
    readonly IReadOnlyDictionary<string, object?> specialTokens;
    readonly string origin;

    ChatTemplate(string name, JinjaTemplate? template, IReadOnlyDictionary<string, object?> specialTokens, string origin)
    {
        Name = name;
        this.template = template;
        this.specialTokens = specialTokens;
        this.origin = origin;
    }

    public string Name { get; }

    /// <summary>Whether there is a template to render (a model without one fails only when a chat example needs it).</summary>
    public bool IsAvailable => template is not null;

    /// <summary>ChatML with no special-token strings (for tests and explicit use).</summary>
    public static ChatTemplate ChatMl { get; } = FromSource(ChatMlSource, "chatml");

    /// <summary>A template from its Jinja source, with the special-token strings it may read.</summary>
    public static ChatTemplate FromSource(string source, string name, IReadOnlyDictionary<string, object?>? specialTokens = null) =>
        new(name, new ChatTemplateSource(source, name, specialTokens ?? new Dictionary<string, object?>()).Parse(), specialTokens ?? new Dictionary<string, object?>(), name);

    /// <summary>
    /// The template to use: <c>auto</c> (or empty) is the model's own (tokenizer_config.json / chat_template.jinja);
    /// <c>chatml</c> and <c>llama3</c> choose those explicitly, with the model's special-token strings.
    /// </summary>
    public static ChatTemplate Resolve(string? requested, string modelDirectory, string configSource)
    {
        var source = ChatTemplateSource.Load(modelDirectory);
        switch (requested)
        {
            case "chatml": return new ChatTemplate("chatml", JinjaTemplate.Parse(ChatMlSource), source.SpecialTokens, "chat_template: chatml");
            case "llama3": return new ChatTemplate("llama3", JinjaTemplate.Parse(Llama3Source), source.SpecialTokens, "chat_template: llama3");
            case null or "" or "auto": break;
            default:
                throw new LoraBuildException(ErrorCodes.ChatTemplateUnsupported, $"chat_template '{requested}' is not one of auto, chatml, llama3.", configSource);
        }
        return new ChatTemplate(Path.GetFileName(source.Origin), source.Template is null ? null : source.Parse(), source.SpecialTokens, source.Origin);
    }

    /// <summary>The conversation as text, as <c>apply_chat_template(messages, tokenize=False, add_generation_prompt=...)</c>.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string exampleSource = "", IReadOnlyDictionary<string, object?>? extra = null) =>
        RenderResult(messages, addGenerationPrompt, exampleSource, extra).Text;

    RenderResult RenderResult(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string exampleSource, IReadOnlyDictionary<string, object?>? extra = null)
    {
        if (template is null)
            throw new LoraBuildException(ErrorCodes.ChatTemplateMissing,
                $"chat example, but the model has no chat template ({origin} has no chat_template and there is no {ChatTemplateSource.JinjaFile} beside it): " +
                $"add the model's chat template there, or choose one explicitly with chat_template: chatml or chat_template: llama3.", File(exampleSource), Line(exampleSource));
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in specialTokens) variables[key] = value;
        variables["messages"] = messages.Select(m => (object?)m.ToTemplateValue()).ToList();
        variables["tools"] = null;
        variables["documents"] = null;
        variables["add_generation_prompt"] = addGenerationPrompt;
        if (extra is not null) foreach (var (key, value) in extra) variables[key] = value;
        try
        {
            return template.Render(variables);
        }
        catch (TemplateRaisedException e)
        {
            throw new LoraBuildException(ErrorCodes.ChatTemplateRender, $"the chat template ({origin}, line {e.Line}) refused this conversation: {e.Message}", File(exampleSource), Line(exampleSource));
        }
        catch (TemplateException e)
        {
            throw new LoraBuildException(ErrorCodes.ChatTemplateRender, $"the chat template ({origin}) failed at its line {e.Line}: {e.Message}", File(exampleSource), Line(exampleSource));
        }
    }

    /// <summary>The prompt a model continues to answer the conversation so far (for generation).</summary>
    public string GenerationPrompt(IReadOnlyList<ChatMessage> messages, string exampleSource = "") => Render(messages, true, exampleSource);

    /// <summary>The whole conversation and where its assistant turns are in it.</summary>
    public RenderedChat RenderForTraining(IReadOnlyList<ChatMessage> messages, string exampleSource = "")
    {
        var full = RenderResult(messages, false, exampleSource);
        if (template!.HasGenerationBlocks)
        {
            if (full.GenerationSpans.Count == 0 && messages.Any(m => m.Role == "assistant"))
                throw new LoraBuildException(ErrorCodes.ChatTemplateAssistantSpan,
                    $"the chat template ({origin}) has {{% generation %}} blocks but they produced no text for this conversation.", File(exampleSource), Line(exampleSource));
            return new RenderedChat(full.Text, full.GenerationSpans);
        }
        var spans = new List<TextSpan>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            var before = Render(messages.Take(i).ToList(), true, exampleSource);
            var through = Render(messages.Take(i + 1).ToList(), false, exampleSource);
            // A generation prompt the whole conversation does not contain (DeepSeek-R1's "<think>\n") starts the turn where
            // the two renderings part.
            var s = Align(before, full.Text) ?? CommonPrefixLength(before, full.Text);
            if (Align(through, full.Text) is not { } e || e <= s)
                throw new LoraBuildException(ErrorCodes.ChatTemplateAssistantSpan,
                    $"cannot locate assistant turn {i} (messages[{i}]) in the rendered conversation: the chat template ({origin}) renders the conversation up to it " +
                    "differently from the whole; add {% generation %}...{% endgeneration %} around the assistant output in the template.", File(exampleSource), Line(exampleSource));
            if (spans.Count > 0 && s < spans[^1].End) s = spans[^1].End;
            spans.Add(new TextSpan(s, e));
        }
        return new RenderedChat(full.Text, spans);
    }

    /// <summary>
    /// Where the end of <paramref name="partial"/> (a rendering of the first turns) falls in <paramref name="full"/>.
    /// Usually partial is a prefix of full. Some templates render the last turn differently (Qwen3 adds an empty
    /// think block to an assistant turn after the last user message); then the text after the common prefix is aligned
    /// by its longest suffix that continues <paramref name="full"/> there. Null when nothing aligns.
    /// </summary>
    public static int? Align(string partial, string full)
    {
        var common = CommonPrefixLength(partial, full);
        if (common == partial.Length) return common;
        var tail = partial.AsSpan(common);
        var rest = full.AsSpan(common);
        for (var skip = 1; skip < tail.Length; skip++)
            if (rest.StartsWith(tail[skip..], StringComparison.Ordinal)) return common + tail.Length - skip;
        return null;
    }

    static int CommonPrefixLength(string a, string b)
    {
        var common = 0;
        var limit = Math.Min(a.Length, b.Length);
        while (common < limit && a[common] == b[common]) common++;
        return common;
    }

    static string? File(string exampleSource) => exampleSource.Length == 0 ? null : exampleSource[..Math.Max(0, exampleSource.LastIndexOf(':'))] is { Length: > 0 } f ? f : exampleSource;

    static int Line(string exampleSource) =>
        exampleSource.LastIndexOf(':') is var colon and > 0 && int.TryParse(exampleSource.AsSpan(colon + 1), out var line) ? line : 0;
}
