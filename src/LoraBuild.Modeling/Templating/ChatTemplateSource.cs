using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.Templating.Jinja;
using LoraBuild.Tokenization;

namespace LoraBuild.Templating;

/// <summary>
/// Where a model's chat template comes from, read as transformers reads it: <c>chat_template.jinja</c> beside
/// tokenizer_config.json (transformers 4.5x+ saves it there) wins; else tokenizer_config.json's <c>chat_template</c>,
/// a string or a list of named templates (<c>{"name", "template"}</c>, of which "default" is used). Also the
/// special-token strings a template reads (bos_token, eos_token, ...), as <c>tokenizer.special_tokens_map</c> has them.
/// </summary>
public sealed record ChatTemplateSource(string? Template, string Origin, IReadOnlyDictionary<string, object?> SpecialTokens)
{
    public const string JinjaFile = "chat_template.jinja";
    public const string ConfigFile = "tokenizer_config.json";
    static readonly string[] SpecialTokenKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    /// <summary>Reads the template of a model folder (or of the folder of a tokenizer file); Template is null when it has none.</summary>
    public static ChatTemplateSource Load(string modelDirectory)
    {
        var directory = File.Exists(modelDirectory) ? Path.GetDirectoryName(Path.GetFullPath(modelDirectory))! : modelDirectory;
        var configPath = Path.Combine(directory, ConfigFile);
        var jinjaPath = Path.Combine(directory, JinjaFile);
        var specials = new Dictionary<string, object?>(StringComparer.Ordinal);
        string? template = null;
        var origin = configPath;
        if (File.Exists(configPath))
        {
            JsonDocument config;
            try
            {
                config = JsonDocument.Parse(File.ReadAllText(configPath));
            }
            catch (JsonException e)
            {
                throw new LoraBuildException(ErrorCodes.ChatTemplateSyntax, $"not valid JSON ({e.Message}).", configPath);
            }
            using (config)
            {
                var root = config.RootElement;
                foreach (var key in SpecialTokenKeys)
                    if (root.TryGetProperty(key, out var token) && TokenizerConfig.TokenContent(token) is { } text) specials[key] = text;
                if (root.TryGetProperty("additional_special_tokens", out var additional) && additional.ValueKind == JsonValueKind.Array)
                    specials["additional_special_tokens"] = additional.EnumerateArray().Select(t => (object?)TokenizerConfig.TokenContent(t)).Where(t => t is not null).ToList();
                if (root.TryGetProperty("chat_template", out var value)) template = ConfigTemplate(value, configPath);
            }
        }
        if (File.Exists(jinjaPath))
        {
            template = File.ReadAllText(jinjaPath);
            origin = jinjaPath;
        }
        return new ChatTemplateSource(template, origin, specials);
    }

    static string? ConfigTemplate(JsonElement value, string configPath)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Array:
                var named = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var entry in value.EnumerateArray())
                {
                    if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
                        || !entry.TryGetProperty("template", out var text) || text.ValueKind != JsonValueKind.String)
                        throw new LoraBuildException(ErrorCodes.ChatTemplateSyntax, "chat_template list entries must be objects with string \"name\" and \"template\".", configPath);
                    named[name.GetString()!] = text.GetString()!;
                }
                if (named.TryGetValue("default", out var chosen)) return chosen;
                throw new LoraBuildException(ErrorCodes.ChatTemplateMissing,
                    $"chat_template lists named templates ({string.Join(", ", named.Keys)}) but none is named \"default\", the one training uses.", configPath);
            default:
                throw new LoraBuildException(ErrorCodes.ChatTemplateSyntax, $"chat_template must be a string or a list of {{\"name\", \"template\"}}, found {value.ValueKind.ToString().ToLowerInvariant()}.", configPath);
        }
    }

    /// <summary>Parses the template; a syntax error names the file and the template line.</summary>
    public JinjaTemplate Parse()
    {
        try
        {
            return JinjaTemplate.Parse(Template ?? throw new InvalidOperationException("no template"));
        }
        catch (TemplateSyntaxException e)
        {
            var where = Origin.EndsWith(JinjaFile, StringComparison.Ordinal) ? e.Line : 0;
            throw new LoraBuildException(ErrorCodes.ChatTemplateSyntax, $"chat template line {e.Line}: {e.Message}", Origin, where);
        }
    }
}
