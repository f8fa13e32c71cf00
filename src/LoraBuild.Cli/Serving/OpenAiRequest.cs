using System.Text.Json;
using LoraBuild.Runtime.Engine;

namespace LoraBuild.Cli.Serving;

/// <summary>
/// The fields of an OpenAI chat or text completion request this server honours, read strictly: a wrong type or a value
/// out of range is a 400 naming the parameter (never a 500). Unknown fields are ignored, as OpenAI-compatible servers do.
/// </summary>
public sealed record OpenAiRequest(string Model, IReadOnlyList<(string Role, string Content)>? Messages, string? Prompt, bool Stream,
    bool IncludeUsage, SamplingSettings Settings, IReadOnlyList<string> Stop)
{
    public static OpenAiRequest Parse(JsonElement root, bool chat, ServeLimits limits)
    {
        if (root.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("The request body must be a JSON object.");
        var model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() is { Length: > 0 } name
            ? name : throw OpenAiError.Invalid("'model' is required: a string naming the base or an adapter (see /v1/models).", "model");
        IReadOnlyList<(string, string)>? messages = null;
        string? prompt = null;
        if (chat) messages = ReadMessages(root);
        else prompt = root.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String
            ? p.GetString()! : throw OpenAiError.Invalid("'prompt' is required: a string.", "prompt");
        var stream = Bool(root, "stream") ?? false;
        var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && (Bool(so, "include_usage") ?? false);
        if (Number(root, "n") is { } n && n != 1) throw OpenAiError.Invalid("Only n = 1 is supported.", "n");
        var maxTokens = (int?)Integer(root, "max_completion_tokens") ?? (int?)Integer(root, "max_tokens") ?? limits.DefaultMaxTokens;
        if (maxTokens < 1 || maxTokens > limits.MaxTokens)
            throw OpenAiError.Invalid($"max_tokens must be between 1 and {limits.MaxTokens} (was {maxTokens}).", "max_tokens");
        var temperature = Number(root, "temperature") ?? 1.0;
        if (temperature is < 0 or > 2) throw OpenAiError.Invalid($"temperature must be between 0 and 2 (was {temperature}).", "temperature");
        var topP = Number(root, "top_p") ?? 1.0;
        if (topP is <= 0 or > 1) throw OpenAiError.Invalid($"top_p must be in (0, 1] (was {topP}).", "top_p");
        var topK = Integer(root, "top_k") ?? 0;
        if (topK < 0 || topK > int.MaxValue) throw OpenAiError.Invalid("top_k must be 0 (off) or positive.", "top_k");
        var seed = Integer(root, "seed");
        var settings = new SamplingSettings(maxTokens, temperature, topP, (int)topK, seed);
        return new OpenAiRequest(model, messages, prompt, stream, includeUsage, settings, ReadStop(root));
    }

    static IReadOnlyList<(string, string)> ReadMessages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw OpenAiError.Invalid("'messages' is required: a non-empty array of {role, content}.", "messages");
        var messages = new List<(string, string)>();
        var i = 0;
        foreach (var message in list.EnumerateArray())
        {
            var param = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw OpenAiError.Invalid($"{param} must be an object with a string 'role'.", param);
            messages.Add((role.GetString()!, Content(message, param)));
        }
        return messages;
    }

    /// <summary>A message's text: a string, or an array of parts of which the text parts are joined.</summary>
    static string Content(JsonElement message, string param)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw OpenAiError.Invalid($"{param}.content must be a string or an array of parts.", param + ".content");
        var text = new System.Text.StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                || !part.TryGetProperty("text", out var value) || value.ValueKind != JsonValueKind.String)
                throw OpenAiError.Invalid($"{param}.content: only text parts ({{\"type\": \"text\", \"text\": ...}}) are supported.", param + ".content");
            text.Append(value.GetString());
        }
        return text.ToString();
    }

    static IReadOnlyList<string> ReadStop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        if (stop.ValueKind == JsonValueKind.String) return [stop.GetString()!];
        if (stop.ValueKind == JsonValueKind.Array && stop.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String) && stop.GetArrayLength() <= 4)
            return stop.EnumerateArray().Select(s => s.GetString()!).ToList();
        throw OpenAiError.Invalid("'stop' must be a string or an array of up to 4 strings.", "stop");
    }

    static bool? Bool(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw OpenAiError.Invalid($"'{name}' must be a boolean.", name);

    static double? Number(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d
        : throw OpenAiError.Invalid($"'{name}' must be a number.", name);

    static long? Integer(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var i) ? i
        : throw OpenAiError.Invalid($"'{name}' must be an integer.", name);
}
