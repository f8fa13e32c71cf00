using LoraBuild.Runtime;
using LoraBuild.Runtime.Chat;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// The runtime's IChatClient: messages through the model's chat template, the adapter chosen by ModelId, options,
/// streaming, usage and finish reasons, cancellation within a decoding step, GetService and DI registration. The
/// oracle is the one-request generator on the template's text written out by hand.
/// </summary>
public class ChatClientTests(ChatModelFixture model) : IClassFixture<ChatModelFixture>
{
    static List<ChatMessage> Ask(string text) => [new(ChatRole.User, text)];

    [Fact]
    public async Task A_response_is_the_adapter_continuing_the_rendered_template_with_usage_and_finish_reason()
    {
        using var client = new LoraBuildChatClient(model.Host, new LoraBuildChatClientOptions { DefaultModelId = "lora" });
        var response = await client.GetResponseAsync(Ask("hello there"), new ChatOptions { MaxOutputTokens = 10 });
        Assert.Equal(model.Expected("lora", "hello there", 10), response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Equal("lora", response.ModelId);
        Assert.Equal(model.PromptTokens("hello there"), response.Usage!.InputTokenCount);
        Assert.Equal(10, response.Usage.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);

        // ModelId picks the adapter per request: base and DoRA answer differently, each as its oracle says.
        var asBase = await client.GetResponseAsync(Ask("hello there"), new ChatOptions { ModelId = AdapterHost.BaseOnly, MaxOutputTokens = 10 });
        var asDora = await client.GetResponseAsync(Ask("hello there"), new ChatOptions { ModelId = "dora", MaxOutputTokens = 10 });
        Assert.Equal(model.Expected(AdapterHost.BaseOnly, "hello there", 10), asBase.Text);
        Assert.Equal(model.Expected("dora", "hello there", 10), asDora.Text);
        Assert.NotEqual(response.Text, asBase.Text);
        Assert.NotEqual(response.Text, asDora.Text);
    }

    [Fact]
    public async Task Streaming_yields_the_same_text_in_pieces_and_ends_with_finish_reason_and_usage()
    {
        using var client = new LoraBuildChatClient(model.Host, new LoraBuildChatClientOptions { DefaultModelId = "lora" });
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Ask("stream me"), new ChatOptions { MaxOutputTokens = 12 })) updates.Add(update);
        Assert.True(updates.Count(u => !string.IsNullOrEmpty(u.Text)) > 3);
        Assert.Equal(model.Expected("lora", "stream me", 12), string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.Equal(12, updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal(updates[0].ResponseId, u.ResponseId));
    }

    [Fact]
    public async Task Stop_sequences_top_k_and_seeded_sampling_apply()
    {
        using var client = new LoraBuildChatClient(model.Host, new LoraBuildChatClientOptions { DefaultModelId = "lora" });
        var full = model.Expected("lora", "options", 16);
        var stop = full.Substring(6, 3);
        var stopped = await client.GetResponseAsync(Ask("options"), new ChatOptions { MaxOutputTokens = 16, StopSequences = [stop] });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);

        // Top-k 1 leaves only the argmax, whatever the temperature: greedy again.
        var topOne = await client.GetResponseAsync(Ask("options"), new ChatOptions { MaxOutputTokens = 16, Temperature = 1.5f, TopK = 1, Seed = 3 });
        Assert.Equal(full, topOne.Text);
        // A seed makes sampling repeatable; another seed samples another text.
        var sampling = new ChatOptions { MaxOutputTokens = 16, Temperature = 1.5f, Seed = 11 };
        var first = await client.GetResponseAsync(Ask("options"), sampling);
        var again = await client.GetResponseAsync(Ask("options"), sampling);
        var other = await client.GetResponseAsync(Ask("options"), new ChatOptions { MaxOutputTokens = 16, Temperature = 1.5f, Seed = 12 });
        Assert.Equal(first.Text, again.Text);
        Assert.NotEqual(first.Text, other.Text);
        Assert.NotEqual(full, first.Text);

        var bad = await Assert.ThrowsAsync<LoraBuild.Diagnostics.LoraBuildException>(() => client.GetResponseAsync(Ask("x"), new ChatOptions { TopP = 0 }));
        Assert.Equal("LB0311", bad.Code);
    }

    [Fact]
    public async Task Cancelling_mid_stream_stops_the_request_within_one_decoding_step()
    {
        using var client = new LoraBuildChatClient(model.Host, new LoraBuildChatClientOptions { DefaultModelId = "dora" });
        var counters = () => model.Host.Engine.Metrics.Adapters.TryGetValue("dora", out var c) ? (c.Cancelled, c.GeneratedTokens) : (0, 0);
        var (cancelledBefore, generatedBefore) = counters();
        using var cancel = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(Ask("tell me"), new ChatOptions { MaxOutputTokens = 500 }, cancel.Token))
                if (!string.IsNullOrEmpty(update.Text) && ++received == 3) cancel.Cancel();
        });
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (counters().Cancelled == cancelledBefore && DateTime.UtcNow < deadline) await Task.Delay(20);
        var (cancelledAfter, generatedAfter) = counters();
        Assert.Equal(cancelledBefore + 1, cancelledAfter);
        // Three pieces were read when it was cancelled; the engine decoded at most a step or two more, not 500.
        Assert.InRange(generatedAfter - generatedBefore, 3, 8);
    }

    [Fact]
    public async Task GetService_returns_the_host_and_metadata_and_DI_registers_keyed_clients_per_adapter()
    {
        using var client = new LoraBuildChatClient(model.Host);
        Assert.Same(model.Host, client.GetService<AdapterHost>());
        Assert.Same(client, client.GetService<LoraBuildChatClient>());
        Assert.Equal("lorabuild", client.GetService<ChatClientMetadata>()!.ProviderName);
        Assert.Null(client.GetService<AdapterHost>("some key"));
        Assert.Null(client.GetService<IServiceProvider>());

        var services = new ServiceCollection();
        services.AddLoraBuildChatClient(model.ModelDirectory, model.Adapters, o => o.DefaultModelId = "lora", ChatModelFixture.Options);
        await using var provider = services.BuildServiceProvider();
        var plain = provider.GetRequiredService<IChatClient>();
        var dora = provider.GetRequiredKeyedService<IChatClient>("dora");
        var baseClient = provider.GetRequiredKeyedService<IChatClient>(AdapterHost.BaseOnly);
        Assert.Same(plain.GetService<AdapterHost>(), dora.GetService<AdapterHost>());
        Assert.Equal(model.Expected("lora", "di", 6), (await plain.GetResponseAsync(Ask("di"), new ChatOptions { MaxOutputTokens = 6 })).Text);
        Assert.Equal(model.Expected("dora", "di", 6), (await dora.GetResponseAsync(Ask("di"), new ChatOptions { MaxOutputTokens = 6 })).Text);
        Assert.Equal(model.Expected(AdapterHost.BaseOnly, "di", 6), (await baseClient.GetResponseAsync(Ask("di"), new ChatOptions { MaxOutputTokens = 6 })).Text);
    }

    [Fact]
    public async Task DI_without_a_base_folder_loads_the_Hub_base_the_adapters_record()
    {
        // No folder: the host is loaded from the Hub id and commit the adapters' lorabuild.json records (the lora-app
        // template's default). These adapters record none, so the first client resolved says so instead of loading.
        var services = new ServiceCollection();
        services.AddLoraBuildChatClient(null, model.Adapters, hostOptions: ChatModelFixture.Options);
        await using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<LoraBuild.Diagnostics.LoraBuildException>(() => provider.GetRequiredService<IChatClient>());
        Assert.Equal(LoraBuild.Diagnostics.ErrorCodes.HubIdInvalid, e.Code);
        Assert.Contains("'lora', 'dora'", e.Message);
    }

    [Fact]
    public void Generate_with_chat_renders_the_prompt_through_the_template()
    {
        var run = Worker.Run("generate", "--model", model.ModelDirectory, "--adapter", "lora=" + model.Adapters[0].Directory,
            "--prompt", "hello there", "--chat", "--max-new-tokens", "10", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Contains("[lora] hello there" + model.Expected("lora", "hello there", 10) + "\n", run.StdOut);
        // Without --chat the raw prompt is continued instead: another text.
        var raw = Worker.Run("generate", "--model", model.ModelDirectory, "--adapter", "lora=" + model.Adapters[0].Directory,
            "--prompt", "hello there", "--max-new-tokens", "10", "--device", "cpu");
        Assert.DoesNotContain("[lora] hello there" + model.Expected("lora", "hello there", 10) + "\n", raw.StdOut);
    }
}
