using System.Runtime.CompilerServices;
using LoraBuild.Generation;
using LoraBuild.Runtime;
using Microsoft.Extensions.AI;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over LoraBuild.Runtime's <see cref="AdapterHost"/>:
/// <see cref="ChatOptions.ModelId"/> names the adapter ("base" for the base model alone). The last user message is
/// completed as the adapter was trained (prompt -> completion).
/// </summary>
sealed class AdapterChatClient(AdapterHost host) : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var adapter = options?.ModelId ?? AdapterHost.BaseOnly;
        var prompt = messages.Last(m => m.Role == ChatRole.User).Text;
        var generation = new GenerationOptions(MaxNewTokens: options?.MaxOutputTokens ?? 64, Temperature: options?.Temperature ?? 0,
            TopP: options?.TopP ?? 1.0, Seed: options?.Seed ?? 0);
        // Generation is synchronous and compute bound: run it off the caller's thread.
        return Task.Run(() => new ChatResponse(new ChatMessage(ChatRole.Assistant, host.Generate(adapter, prompt, generation))) { ModelId = adapter },
            cancellationToken);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (var update in response.ToChatResponseUpdates()) yield return update;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null : serviceType.IsInstanceOfType(host) ? host : serviceType.IsInstanceOfType(this) ? this : null;

    // The host belongs to whoever created it.
    public void Dispose() { }
}
