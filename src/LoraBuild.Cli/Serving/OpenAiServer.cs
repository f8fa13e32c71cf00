using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraBuild.Diagnostics;
using LoraBuild.Runtime;
using LoraBuild.Runtime.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LoraBuild.Cli.Serving;

/// <summary>
/// An OpenAI-compatible HTTP API over an <see cref="AdapterHost"/> (the subset vLLM and llama.cpp's server offer):
/// <c>/v1/chat/completions</c> and <c>/v1/completions</c> (streamed as server-sent events or not), <c>/v1/models</c>
/// (the base and each adapter), <c>/health</c> and <c>/metrics</c>. Every generation goes through the host's
/// continuous-batching engine; a client that disconnects cancels its request.
/// </summary>
public sealed class OpenAiServer(AdapterHost host, ServeLimits limits)
{
    static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    readonly ServerCounters counters = new();
    readonly long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public ServerCounters Counters => counters;
    IEnumerable<string> Models => host.Adapters.Order(StringComparer.Ordinal).Prepend(AdapterHost.BaseOnly);

    public WebApplication Build(IPAddress address, int port, TimeSpan shutdownTimeout)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = shutdownTimeout);
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = limits.MaxBodyBytes;
            kestrel.Listen(address, port);
        });
        var app = builder.Build();
        app.MapGet("/health", () => Results.Json(new { status = "ok" }));
        app.MapGet("/metrics", () => Results.Text(PrometheusMetrics.Render(host.Engine.Metrics, counters, Models), PrometheusMetrics.ContentType));
        app.MapGet("/v1/models", () => Results.Text(ModelList().ToJsonString(Compact), "application/json"));
        app.MapPost("/v1/chat/completions", context => Generate(context, chat: true));
        app.MapPost("/v1/completions", context => Generate(context, chat: false));
        return app;
    }

    /// <summary>The address Kestrel bound (port 0 picks a free one).</summary>
    public static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    JsonObject ModelList() => new()
    {
        ["object"] = "list",
        ["data"] = new JsonArray(Models.Select(m => (JsonNode)new JsonObject
        {
            ["id"] = m, ["object"] = "model", ["created"] = created, ["owned_by"] = "lorabuild",
            ["root"] = m, ["parent"] = m == AdapterHost.BaseOnly ? null : AdapterHost.BaseOnly,
        }).ToArray()),
    };

    async Task Generate(HttpContext context, bool chat)
    {
        var endpoint = context.Request.Path.Value ?? "";
        if (!counters.TryEnter(limits.MaxConcurrentRequests))
        {
            await Error(context, endpoint, new OpenAiError(429, $"More than {limits.MaxConcurrentRequests} requests in flight; retry later.", "rate_limit_exceeded"));
            return;
        }
        try
        {
            var (request, promptIds) = await Read(context, chat);
            var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
            var updates = host.StreamCompletionAsync(request.Model, promptIds, request.Settings, request.Stop, context.RequestAborted);
            if (request.Stream) await Stream(context, request, chat, id, updates);
            else await Whole(context, request, chat, id, updates);
            counters.Responded(endpoint, 200);
        }
        catch (OpenAiError e)
        {
            await Error(context, endpoint, e);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: its request was cancelled in the engine; there is no one to answer.
            counters.Responded(endpoint, 499);
        }
        catch (LoraBuildException e)
        {
            await Error(context, endpoint, OpenAiError.Invalid($"{e.Code}: {e.Message}"));
        }
        catch (BadHttpRequestException e)
        {
            await Error(context, endpoint, new OpenAiError(e.StatusCode, e.Message, code: e.StatusCode == 413 ? "request_too_large" : null));
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"lorabuild serve: {endpoint}: {e}");
            await Error(context, endpoint, new OpenAiError(500, "Internal server error.", "server_error"));
        }
        finally
        {
            counters.Leave();
        }
    }

    async Task<(OpenAiRequest Request, IReadOnlyList<int> PromptIds)> Read(HttpContext context, bool chat)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException e)
        {
            throw OpenAiError.Invalid($"The request body is not valid JSON: {e.Message}");
        }
        using (document)
        {
            var request = OpenAiRequest.Parse(document.RootElement, chat, limits);
            if (request.Model != AdapterHost.BaseOnly && !host.Adapters.Contains(request.Model))
                throw new OpenAiError(404, $"The model '{request.Model}' does not exist; served: {string.Join(", ", Models)}.", param: "model", code: "model_not_found");
            IReadOnlyList<int> ids;
            try
            {
                ids = chat ? host.EncodeChat(host.ChatPrompt.Render(request.Messages!)) : host.EncodeRaw(request.Prompt!);
            }
            catch (LoraBuildException e)
            {
                throw OpenAiError.Invalid($"{e.Code}: {e.Message}", chat ? "messages" : "prompt");
            }
            if (ids.Count == 0) throw OpenAiError.Invalid("The prompt encodes to no tokens.", chat ? "messages" : "prompt");
            if (ids.Count > limits.MaxPromptTokens)
                throw OpenAiError.Invalid($"The prompt has {ids.Count} tokens; at most {limits.MaxPromptTokens} are accepted.", chat ? "messages" : "prompt");
            return (request, ids);
        }
    }

    async Task Whole(HttpContext context, OpenAiRequest request, bool chat, string id, IAsyncEnumerable<CompletionUpdate> updates)
    {
        var text = new StringBuilder();
        GenerationResult? result = null;
        await foreach (var update in updates)
        {
            text.Append(update.Text);
            result ??= update.Result;
        }
        var choice = chat
            ? new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text.ToString() }, ["logprobs"] = null, ["finish_reason"] = Finish(result!) }
            : new JsonObject { ["index"] = 0, ["text"] = text.ToString(), ["logprobs"] = null, ["finish_reason"] = Finish(result!) };
        var body = Envelope(id, chat ? "chat.completion" : "text_completion", request.Model, choice);
        body["usage"] = Usage(result!);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(Compact), context.RequestAborted);
    }

    async Task Stream(HttpContext context, OpenAiRequest request, bool chat, string id, IAsyncEnumerable<CompletionUpdate> updates)
    {
        var kind = chat ? "chat.completion.chunk" : "text_completion";
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var first = true;
        await foreach (var update in updates)
        {
            JsonObject choice;
            if (chat)
            {
                var delta = new JsonObject();
                if (first) delta["role"] = "assistant";
                if (update.Text.Length > 0 || first) delta["content"] = update.Text;
                choice = new JsonObject { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = update.Result is { } r ? Finish(r) : null };
            }
            else choice = new JsonObject { ["index"] = 0, ["text"] = update.Text, ["logprobs"] = null, ["finish_reason"] = update.Result is { } r ? Finish(r) : null };
            first = false;
            await Event(context, Envelope(id, kind, request.Model, choice));
            if (update.Result is { } done && request.IncludeUsage)
            {
                var usage = Envelope(id, kind, request.Model, null);
                usage["usage"] = Usage(done);
                await Event(context, usage);
            }
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    static async Task Event(HttpContext context, JsonObject data)
    {
        await context.Response.WriteAsync("data: " + data.ToJsonString(Compact) + "\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    JsonObject Envelope(string id, string kind, string model, JsonObject? choice) => new()
    {
        ["id"] = id,
        ["object"] = kind,
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model,
        ["choices"] = choice is null ? new JsonArray() : new JsonArray(choice),
    };

    static string Finish(GenerationResult result) => result.FinishReason == GenerationFinishReason.Length ? "length" : "stop";

    static JsonObject Usage(GenerationResult result) => new()
    {
        ["prompt_tokens"] = result.PromptTokens,
        ["completion_tokens"] = result.OutputTokens,
        ["total_tokens"] = result.PromptTokens + result.OutputTokens,
    };

    async Task Error(HttpContext context, string endpoint, OpenAiError error)
    {
        counters.Responded(endpoint, error.Status);
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        try
        {
            await context.Response.WriteAsync(error.ToJson().ToJsonString(Compact));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client is gone; the error had no reader.
        }
    }
}
