using LoraBuild.Runtime;
using LoraBuild.Runtime.Chat;
using Microsoft.Extensions.AI;

// The base model the adapter was built on (the package records its sha256; a different base is refused).
var baseModel = Environment.GetEnvironmentVariable("HELLO_BASE_MODEL") ?? Path.Combine("examples", "digits", "base");
var prompts = args.Length > 0 ? args : ["spell 4 0 7:"];

var adapters = AdapterHost.DiscoverAdapters();
Console.WriteLine($"adapters from packages: {string.Join(", ", adapters.Select(a => a.Name))}");
using var host = AdapterHost.Load(baseModel, adapters);
// Microsoft.Extensions.AI's IChatClient over the host; ModelId picks the adapter. The speller learned plain
// "prompt -> completion" pairs (no chat template), so the prompt goes to the model as raw text.
using IChatClient chat = new LoraBuildChatClient(host, new LoraBuildChatClientOptions { PromptFormat = PromptFormat.Raw, DefaultModelId = "speller" });
// Requests for different adapters run concurrently: the runtime batches them into shared decoding steps.
var answers = prompts.Select(prompt => (
    Prompt: prompt,
    Base: chat.GetResponseAsync(prompt, new ChatOptions { ModelId = AdapterHost.BaseOnly, MaxOutputTokens = 12 }),
    Speller: chat.GetResponseAsync(prompt, new ChatOptions { MaxOutputTokens = 64 }))).ToList();
foreach (var (prompt, baseAnswer, spellerAnswer) in answers)
{
    Console.WriteLine($"[base]    {prompt}{(await baseAnswer).Text}");
    Console.WriteLine($"[speller] {prompt}{(await spellerAnswer).Text}");
}
