using System.Text.Json.Nodes;

namespace LoraBuild.Cli.Serving;

/// <summary>
/// A request the server refuses, answered with OpenAI's error body:
/// <c>{"error": {"message", "type", "param", "code"}}</c> and its status (400 invalid request, 404 unknown model,
/// 413 body too large, 429 too many requests in flight).
/// </summary>
public sealed class OpenAiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static OpenAiError Invalid(string message, string? param = null) => new(400, message, param: param);

    public JsonObject ToJson() => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = Message,
            ["type"] = Type,
            ["param"] = Param,
            ["code"] = Code,
        },
    };
}
