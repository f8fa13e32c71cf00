using System.Text.Json;

namespace LoraBuild.Templating.Jinja;

/// <summary>
/// A parsed Jinja template, configured as transformers configures chat templates (trim_blocks, lstrip_blocks, the
/// loopcontrols extension, <c>{% generation %}</c>). Parse once, render many times.
/// </summary>
public sealed class JinjaTemplate
{
    readonly IReadOnlyList<Statement> program;

    JinjaTemplate(string source, IReadOnlyList<Statement> program)
    {
        Source = source;
        this.program = program;
        HasGenerationBlocks = ContainsGeneration(program);
    }

    public string Source { get; }

    /// <summary>Whether the template marks assistant output with <c>{% generation %}</c>.</summary>
    public bool HasGenerationBlocks { get; }

    /// <summary>Parses <paramref name="source"/>; a syntax error is a <see cref="TemplateSyntaxException"/> with its line.</summary>
    public static JinjaTemplate Parse(string source) => new(source, Parser.Parse(Lexer.Tokenize(source)));

    public RenderResult Render(IReadOnlyDictionary<string, object?> variables) => Interpreter.Render(program, variables);

    public string RenderText(IReadOnlyDictionary<string, object?> variables) => Render(variables).Text;

    /// <summary>A JSON value as a template value: objects keep their key order, integers stay integers.</summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => ToDictionary(element),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var l) ? (object)l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    static OrderedDictionary<string, object?> ToDictionary(JsonElement element)
    {
        var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject()) dict[property.Name] = FromJson(property.Value);
        return dict;
    }

    static bool ContainsGeneration(IEnumerable<Statement> statements) => statements.Any(s => s switch
    {
        GenerationStatement => true,
        IfStatement i => i.Branches.Any(b => ContainsGeneration(b.Body)) || ContainsGeneration(i.Else),
        ForStatement f => ContainsGeneration(f.Body) || ContainsGeneration(f.Else),
        MacroStatement m => ContainsGeneration(m.Body),
        SetBlockStatement b => ContainsGeneration(b.Body),
        FilterBlockStatement b => ContainsGeneration(b.Body),
        CallBlockStatement c => ContainsGeneration(c.Body),
        _ => false,
    });
}
