using LoraBuild.Runtime;

// The base model the adapter was built on (the package records its sha256; a different base is refused).
var baseModel = Environment.GetEnvironmentVariable("HELLO_BASE_MODEL") ?? Path.Combine("examples", "digits", "base");
var prompts = args.Length > 0 ? args : ["spell 4 0 7:"];

var adapters = AdapterHost.DiscoverAdapters();
Console.WriteLine($"adapters from packages: {string.Join(", ", adapters.Select(a => a.Name))}");
using var host = AdapterHost.Load(baseModel, adapters);
foreach (var prompt in prompts)
{
    Console.WriteLine($"[base]    {prompt}{host.Generate(AdapterHost.BaseOnly, prompt, new(MaxNewTokens: 12))}");
    Console.WriteLine($"[speller] {prompt}{host.Generate("speller", prompt)}");
}
