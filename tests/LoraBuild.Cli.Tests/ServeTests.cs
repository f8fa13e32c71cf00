using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using LoraBuild.Runtime;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;

namespace LoraBuild.Cli.Tests;

/// <summary>One `lorabuild serve` over the chat fixture, shared by the tests of a class.</summary>
public sealed class ServeFixture : IDisposable
{
    public ServeFixture()
    {
        Model = new ChatModelFixture();
        Server = new ServeProcess("--model", Model.ModelDirectory, "--adapter", "lora=" + Model.Adapters[0].Directory,
            "--adapter", "dora=" + Model.Adapters[1].Directory, "--accept-adapter-without-provenance", "--device", "cpu",
            "--max-tokens", "64", "--max-body-bytes", "65536");
    }

    public ChatModelFixture Model { get; }
    public ServeProcess Server { get; }

    public ChatClient OpenAiChat(string model) =>
        new(model, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(Server.Url + "/v1") });

    public void Dispose()
    {
        Server.Dispose();
        Model.Dispose();
    }
}

/// <summary>
/// `lorabuild serve` driven by real clients: the official OpenAI .NET package and Microsoft.Extensions.AI.OpenAI's
/// IChatClient over it must get what the model generates in-process (the one-request generator on the same template),
/// streamed or not; bad requests get OpenAI's error JSON and leave the server serving.
/// </summary>
public class ServeTests(ServeFixture serve) : IClassFixture<ServeFixture>
{
    ChatModelFixture Model => serve.Model;

    [Fact]
    public async Task The_official_OpenAI_client_gets_each_adapters_completion_streamed_and_not()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 };
        foreach (var adapter in new[] { "lora", "dora", AdapterHost.BaseOnly })
        {
            var client = serve.OpenAiChat(adapter);
            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hello there")], options);
            Assert.Equal(Model.Expected(adapter, "hello there", 10), completion.Content.Single().Text);
            Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, completion.FinishReason);
            Assert.Equal(Model.PromptTokens("hello there"), completion.Usage.InputTokenCount);
            Assert.Equal(10, completion.Usage.OutputTokenCount);
            Assert.Equal(adapter, completion.Model);
        }

        var text = new StringBuilder();
        var pieces = 0;
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (var update in serve.OpenAiChat("lora").CompleteChatStreamingAsync([new UserChatMessage("stream me")],
                           new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 }))
        {
            foreach (var part in update.ContentUpdate) { text.Append(part.Text); pieces++; }
            finish ??= update.FinishReason;
        }
        Assert.Equal(Model.Expected("lora", "stream me", 12), text.ToString());
        Assert.True(pieces > 3, $"{pieces} pieces");
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, finish);

        var models = await new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(serve.Server.Url + "/v1") }).GetModelsAsync();
        Assert.Equal(["base", "dora", "lora"], models.Value.Select(m => m.Id).Order());

        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => serve.OpenAiChat("nope").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(404, unknown.Status);
        var tooLong = await Assert.ThrowsAsync<ClientResultException>(() => serve.OpenAiChat("lora").CompleteChatAsync([new UserChatMessage("x")], new ChatCompletionOptions { MaxOutputTokenCount = 65 }));
        Assert.Equal(400, tooLong.Status);
    }

    [Fact]
    public async Task Microsoft_Extensions_AI_OpenAI_IChatClient_over_the_server_agrees_with_the_model()
    {
        using IChatClient client = serve.OpenAiChat("dora").AsIChatClient();
        var response = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "tell me")], new ChatOptions { MaxOutputTokens = 9, Temperature = 0 });
        Assert.Equal(Model.Expected("dora", "tell me", 9), response.Text);
        Assert.Equal(AiFinishReason.Length, response.FinishReason);
        Assert.Equal(9, response.Usage!.OutputTokenCount);

        // ModelId overrides the client's model per request, as with any OpenAI endpoint.
        var streamed = new StringBuilder();
        AiFinishReason? finish = null;
        await foreach (var update in client.GetStreamingResponseAsync([new AiChatMessage(ChatRole.User, "tell me")],
                           new ChatOptions { ModelId = "lora", MaxOutputTokens = 9, Temperature = 0 }))
        {
            streamed.Append(update.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(Model.Expected("lora", "tell me", 9), streamed.ToString());
        Assert.Equal(AiFinishReason.Length, finish);
    }

    [Fact]
    public async Task Completions_health_metrics_and_malformed_requests()
    {
        using var http = new HttpClient { BaseAddress = new Uri(serve.Server.Url) };
        var body = JsonSerializer.Serialize(new { model = "base", prompt = "once upon", max_tokens = 8, temperature = 0 });
        using (var response = await http.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var ids = Model.Host.GenerateIds(AdapterHost.BaseOnly, Model.Host.EncodeRaw("once upon"), new(MaxNewTokens: 8));
            Assert.Equal(Model.Host.Tokenizer.Decode(ids), json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
            Assert.Equal("text_completion", json.RootElement.GetProperty("object").GetString());
        }

        foreach (var (bad, status, param) in new (string, HttpStatusCode, string?)[]
                 {
                     ("{\"model\": \"lora\", \"messages\": [", HttpStatusCode.BadRequest, null),
                     ("[1, 2]", HttpStatusCode.BadRequest, null),
                     ("{\"model\": \"lora\"}", HttpStatusCode.BadRequest, "messages"),
                     ("{\"model\": \"lora\", \"messages\": [{\"role\": \"user\", \"content\": 5}]}", HttpStatusCode.BadRequest, "messages[0].content"),
                     ("{\"model\": \"lora\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"hot\"}", HttpStatusCode.BadRequest, "temperature"),
                     ("{\"model\": \"lora\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}", HttpStatusCode.BadRequest, "n"),
                     ("{\"model\": \"lora\", \"messages\": [{\"role\": \"user\", \"content\": \"" + new string('x', 70_000) + "\"}]}", HttpStatusCode.RequestEntityTooLarge, null),
                 })
        {
            using var response = await http.PostAsync("/v1/chat/completions", new StringContent(bad, Encoding.UTF8, "application/json"));
            Assert.Equal(status, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var e = error.RootElement.GetProperty("error");
            Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
            Assert.Equal(param, e.GetProperty("param").GetString());
        }

        Assert.Equal("{\"status\":\"ok\"}", await http.GetStringAsync("/health"));
        var metrics = await http.GetStringAsync("/metrics");
        var lines = metrics.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Prometheus text format: every sample line is "name{labels} value" with a numeric value, under its # TYPE.
        Assert.All(lines.Where(l => !l.StartsWith('#')), l => Assert.Matches(@"^lorabuild:[a-z_:]+(\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\})? -?[0-9.eE+-]+$", l));
        Assert.Contains("# TYPE lorabuild:num_requests_waiting gauge", lines);
        Assert.Contains(lines, l => l.StartsWith("lorabuild:request_total{model_name=\"base\"} ") && long.Parse(l.Split(' ')[1]) >= 1);
        Assert.Contains(lines, l => l.StartsWith("lorabuild:http_responses_total{endpoint=\"/v1/chat/completions\",status=\"400\"} ") && long.Parse(l.Split(' ')[1]) >= 6);
        Assert.Contains(lines, l => l.StartsWith("lorabuild:http_responses_total{endpoint=\"/v1/chat/completions\",status=\"413\"} "));
    }

    [Fact]
    public async Task SIGTERM_lets_a_running_stream_finish_then_the_server_exits_cleanly()
    {
        using var server = new ServeProcess("--model", Model.ModelDirectory, "--adapter", "lora=" + Model.Adapters[0].Directory,
            "--accept-adapter-without-provenance", "--device", "cpu", "--shutdown-timeout", "60");
        var client = new ChatClient("lora", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.Url + "/v1") });
        var text = new StringBuilder();
        OpenAI.Chat.ChatFinishReason? finish = null;
        var exit = Task.CompletedTask;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("tell me")], new ChatCompletionOptions { MaxOutputTokenCount = 120, Temperature = 0 }))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            if (text.Length > 0 && exit.IsCompleted && exit == Task.CompletedTask) exit = Task.Run(() => Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(90))));
        }
        await exit;
        Assert.Equal(Model.Expected("lora", "tell me", 120), text.ToString());
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, finish);
        Assert.Contains("stopped", server.Output);
    }
}
