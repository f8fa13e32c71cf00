using System.Runtime.CompilerServices;
using LoraBuild.Diagnostics;
using LoraBuild.Runtime.Engine;
using Microsoft.Extensions.AI;

namespace LoraBuild.Runtime.Chat;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over an <see cref="AdapterHost"/>: <c>ChatOptions.ModelId</c>
/// picks the adapter (or <c>base</c>); messages are rendered through the model's chat template; every request goes
/// through the host's continuous-batching engine, so concurrent calls share decoding steps. Temperature, TopP, TopK,
/// MaxOutputTokens, StopSequences and Seed apply; cancellation ends a request at the next token.
/// </summary>
public sealed class LoraBuildChatClient : IChatClient
{
    public const string ProviderName = "lorabuild";
    readonly AdapterHost host;
    readonly LoraBuildChatClientOptions options;
    readonly bool ownsHost;

    /// <param name="ownsHost">Dispose the host with the client (DI owns it otherwise).</param>
    public LoraBuildChatClient(AdapterHost host, LoraBuildChatClientOptions? options = null, bool ownsHost = false)
    {
        this.host = host;
        this.options = options ?? new LoraBuildChatClientOptions();
        this.ownsHost = ownsHost;
        Metadata = new ChatClientMetadata(ProviderName, null, this.options.DefaultModelId);
    }

    public ChatClientMetadata Metadata { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false)) updates.Add(update);
        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var modelId = options?.ModelId ?? this.options.DefaultModelId;
        var prompt = Prompt(messages.ToList());
        var settings = Settings(options);
        var responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        await foreach (var update in host.StreamCompletionAsync(modelId, prompt, settings, options?.StopSequences?.ToList(), cancellationToken).ConfigureAwait(false))
        {
            var chunk = new ChatResponseUpdate(ChatRole.Assistant, update.Text.Length > 0 ? update.Text : null)
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = modelId,
                CreatedAt = created,
            };
            if (update.Result is { } result)
            {
                chunk.FinishReason = result.FinishReason == GenerationFinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;
                chunk.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = result.PromptTokens,
                    OutputTokenCount = result.OutputTokens,
                    TotalTokenCount = result.PromptTokens + result.OutputTokens,
                }));
            }
            else if (update.Text.Length == 0) continue;
            yield return chunk;
        }
    }

    /// <summary>The prompt ids: the chat template rendered and encoded without special tokens, or raw text with them.</summary>
    IReadOnlyList<int> Prompt(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) throw new LoraBuildException(ErrorCodes.ServeBadMessage, "A chat request needs at least one message.");
        if (options.PromptFormat == PromptFormat.Raw) return host.EncodeRaw(string.Concat(messages.Select(m => m.Text)));
        return host.EncodeChat(host.ChatPrompt.Render(messages.Select(m => (m.Role.Value, m.Text)).ToList()));
    }

    SamplingSettings Settings(ChatOptions? chat)
    {
        var settings = new SamplingSettings(
            MaxTokens: chat?.MaxOutputTokens ?? options.DefaultMaxOutputTokens,
            Temperature: chat?.Temperature ?? 0,
            TopP: chat?.TopP ?? 1.0,
            TopK: chat?.TopK ?? 0,
            Seed: chat?.Seed);
        if (settings.Temperature < 0 || settings.TopP is <= 0 or > 1 || settings.TopK < 0 || settings.MaxTokens < 1)
            throw new LoraBuildException(ErrorCodes.ServeBadSampling,
                $"Sampling options out of range: temperature {settings.Temperature} (>= 0), top_p {settings.TopP} (0 < p <= 1), top_k {settings.TopK} (>= 0), max tokens {settings.MaxTokens} (>= 1).");
        return settings;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(host)) return host;
        if (serviceType.IsInstanceOfType(this)) return this;
        return null;
    }

    public void Dispose()
    {
        if (ownsHost) host.Dispose();
    }
}
