using LoraBuild.Runtime;
using Microsoft.Extensions.AI;

// The base model the adapter was trained on (its package records the base's sha256; another base is refused).
const string DefaultBaseModel = "Qwen/Qwen3-0.6B";
// The adapter that answers: an adapter's name from a referenced package, or "base" for the base model alone.
const string Adapter = "loraadapter1";

#if (web)
var builder = WebApplication.CreateBuilder(args);
var baseModel = builder.Configuration["LoraBaseModel"] ?? DefaultBaseModel;
builder.Services.AddSingleton(_ => AdapterHost.Load(baseModel, AdapterHost.DiscoverAdapters()));
builder.Services.AddSingleton<IChatClient>(services => new AdapterChatClient(services.GetRequiredService<AdapterHost>()));

var app = builder.Build();
// POST /chat {"prompt": "spell 4 0 7:"} -> {"adapter": "...", "text": "..."}; "adapter" in the request picks another one.
app.MapPost("/chat", async (ChatRequest request, IChatClient chat, CancellationToken cancellationToken) =>
{
    var adapter = request.Adapter ?? Adapter;
    var response = await chat.GetResponseAsync(request.Prompt, new ChatOptions { ModelId = adapter }, cancellationToken);
    return new ChatReply(adapter, response.Text);
});
app.Run();

record ChatRequest(string Prompt, string? Adapter);
record ChatReply(string Adapter, string Text);
#else
var baseModel = Environment.GetEnvironmentVariable("LORA_BASE_MODEL") ?? DefaultBaseModel;
var prompt = args.Length > 0 ? string.Join(' ', args) : "spell 4 0 7:";

using var host = AdapterHost.Load(baseModel, AdapterHost.DiscoverAdapters());
IChatClient chat = new AdapterChatClient(host);
var response = await chat.GetResponseAsync(prompt, new ChatOptions { ModelId = Adapter });
Console.WriteLine($"[{Adapter}] {prompt}{response.Text}");
#endif
