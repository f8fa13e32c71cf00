namespace LoraBuild.Sdk.Tests;

/// <summary>
/// An app outside the repository consumes an adapter package built on a Hub base (BaseModel="test-org/tiny-llama"):
/// AdapterHost.Load with no base folder finds the base in the HF cache from the package's lorabuild.json, offline.
/// </summary>
public class HubConsumingTests
{
    const string Prompt = "spell 4 0 7:";

    [Fact]
    public async Task A_console_app_loads_an_adapter_package_whose_base_is_a_hub_id_without_a_base_path()
    {
        var runtime = RuntimeFeed.Instance;
        await using var hub = await HubEmulator.HubEmulator.StartAsync();
        var adapterProject = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="test-org/tiny-llama" Dataset="data/spell-train.jsonl" Rank="4" Alpha="8"
                             MaxSteps="30" BatchSize="16" SequenceLength="32" LearningRate="0.003" />
              </ItemGroup>
            """, fakeWorker: false, properties: "<PackageId>Contoso.HubAdapters</PackageId>");
        var commit = hub.AddModel("test-org/tiny-llama", Path.Combine(adapterProject.Directory, "models", "base"));
        var cache = Path.Combine(adapterProject.Directory, "hf-cache");
        var hubEnvironment = new Dictionary<string, string?> { ["HF_ENDPOINT"] = hub.HubUrl, ["HF_HUB_CACHE"] = cache, ["HF_TOKEN"] = null, ["HF_HUB_OFFLINE"] = null };
        foreach (var (key, value) in hubEnvironment) adapterProject.Environment[key] = value;
        var pack = adapterProject.Run("pack", "-o", runtime.Directory);
        Assert.True(pack.ExitCode == 0, pack.Output);

        // What the worker generates with that base, given by Hub id on its command line (resolved through the same cache).
        var worker = Path.Combine(ConsumingTests.GlobalPackagesFolder(), "lorabuild.sdk", runtime.Version, "tools", "worker", "lorabuild.dll");
        var expected = DotNet.Run(adapterProject.Directory, hubEnvironment, worker, "generate", "--model", "test-org/tiny-llama",
            "--adapter", "speller=" + Path.Combine(adapterProject.Directory, "bin", "lora", "speller"), "--prompt", Prompt, "--max-new-tokens", "12");
        Assert.True(expected.ExitCode == 0, expected.Output);
        var expectedLine = expected.Output.Split('\n').Single(l => l.StartsWith("[speller] ", StringComparison.Ordinal)).TrimEnd();

        var app = ConsumerApp.Create(runtime, "Contoso.HubAdapters");
        var packages = Path.Combine(app, ".packages");
        // No base path: the adapters' lorabuild.json names test-org/tiny-llama at its commit.
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using LoraBuild.Runtime;
            using var host = AdapterHost.Load(AdapterHost.DiscoverAdapters());
            Console.WriteLine($"[speller] {args[0]}{host.Generate("speller", args[0], new(MaxNewTokens: 12))}");
            """);
        var build = DotNet.Run(app, new Dictionary<string, string?>(), "build", "-c", "Release");
        Assert.True(build.ExitCode == 0, build.Output);

        // Offline, with the HF cache the build filled: the Hub is not asked anything.
        var requests = hub.Requests.Count;
        var run = DotNet.Run(app, new Dictionary<string, string?> { ["HF_HUB_CACHE"] = cache, ["HF_HUB_OFFLINE"] = "1" },
            Path.Combine(app, "bin", "Release", "net10.0", "Consumer.dll"), Prompt);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains(expectedLine, run.Output);
        Assert.Equal(requests, hub.Requests.Count);

        // An empty cache, downloads not allowed by the app: a coded error naming the id, the commit and the fix.
        var empty = DotNet.Run(app, new Dictionary<string, string?> { ["HF_HUB_CACHE"] = Path.Combine(app, "empty-cache"), ["HF_ENDPOINT"] = hub.HubUrl },
            Path.Combine(app, "bin", "Release", "net10.0", "Consumer.dll"), Prompt);
        Assert.NotEqual(0, empty.ExitCode);
        Assert.Contains("LB0405", empty.Output);
        Assert.Contains(commit, empty.Output);
        Assert.Contains("DownloadBaseModel", empty.Output);
    }
}
