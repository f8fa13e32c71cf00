using LoraBuild.Runtime;
using LoraBuild.Runtime.Chat;
using Microsoft.Extensions.AI;
// ASP.NET Core has a HostOptions of its own.
using HostOptions = LoraBuild.Runtime.HostOptions;

// The base model folder, for an adapter built on a local base. Empty: the Hub base the adapter package records (id and
// commit), from the Hugging Face cache, downloaded there on first use. Another base than the adapter's is refused.
const string BaseModelFolder = "BASE_MODEL_FOLDER";
// The adapter that answers: an adapter's name from a referenced package, or "base" for the base model alone.
const string Adapter = "loraadapter1";
var hostOptions = new HostOptions(DownloadBaseModel: true);
// The sample adapter is trained on raw prompt/completion pairs (no chat template), so prompts go to it raw.
void Configure(LoraBuildChatClientOptions options)
{
    options.PromptFormat = PromptFormat.Raw;
    options.DefaultModelId = Adapter;
    options.DefaultMaxOutputTokens = 64;
}

#if (web)
var builder = WebApplication.CreateBuilder(args);
var baseModel = builder.Configuration["LoraBaseModel"] ?? BaseModelFolder;
// IChatClient (and one keyed by each adapter's name) over one AdapterHost, loaded on first use.
builder.Services.AddLoraBuildChatClient(baseModel.Length > 0 ? baseModel : null, configure: Configure, hostOptions: hostOptions);

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
var baseModel = Environment.GetEnvironmentVariable("LORA_BASE_MODEL") ?? BaseModelFolder;
var prompt = args.Length > 0 ? string.Join(' ', args) : "spell 4 0 7:";

var adapters = AdapterHost.DiscoverAdapters();
var host = baseModel.Length > 0 ? AdapterHost.Load(baseModel, adapters, hostOptions) : AdapterHost.Load(adapters, hostOptions);
var options = new LoraBuildChatClientOptions();
Configure(options);
using IChatClient chat = new LoraBuildChatClient(host, options, ownsHost: true);
var response = await chat.GetResponseAsync(prompt, new ChatOptions { ModelId = Adapter });
Console.WriteLine($"[{Adapter}] {prompt}{response.Text}");
#endif
