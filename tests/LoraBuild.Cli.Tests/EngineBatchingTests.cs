using System.Text.Json.Nodes;
using LoraBuild.Adapters;
using LoraBuild.Generation;
using LoraBuild.Runtime;
using LoraBuild.Runtime.Engine;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// Continuous batching must not change what a request generates: greedy output alone equals greedy output inside a
/// batch of five requests over four different adapters and the base, joining at different times with prompts longer
/// than the prefill chunk. Alone, the engine must also agree with the one-request generator (verified elsewhere against
/// PEFT's logits).
/// </summary>
public class EngineBatchingTests
{
    public EngineBatchingTests() => TestPaths.EnsureTorch();

    /// <summary>Four distinct adapters over a fixture: PEFT's LoRA and DoRA, and the LoRA at two other scales.</summary>
    internal static List<AdapterSource> FourAdapters(string family)
    {
        var root = TestPaths.TempDirectory();
        var sources = new List<AdapterSource>
        {
            new("lora", TestPaths.Hf(family, "adapter-lora")),
            new("dora", TestPaths.Hf(family, "adapter-dora")),
        };
        foreach (var (name, alpha) in new[] { ("lora-x3", 24), ("lora-quarter", 2) })
        {
            var dir = Path.Combine(root, name);
            Directory.CreateDirectory(dir);
            foreach (var file in Directory.GetFiles(TestPaths.Hf(family, "adapter-lora"))) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!;
            config["lora_alpha"] = alpha;
            File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString());
            sources.Add(new(name, dir));
        }
        return sources;
    }

    /// <summary>An adapter that also trains lm_head whole (PEFT's modules_to_save): the fixture LoRA plus a changed head.</summary>
    static string AdapterWithWholeHead(string family)
    {
        var dir = Path.Combine(TestPaths.TempDirectory(), "whole-head");
        Directory.CreateDirectory(dir);
        var lora = TestPaths.Hf(family, "adapter-lora");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(lora, "adapter_config.json")))!;
        config["modules_to_save"] = new JsonArray("lm_head");
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString());
        var file = LoraBuild.SafeTensors.SafeTensorsFile.Open(Path.Combine(lora, "adapter_model.safetensors"));
        var tensors = file.Tensors.Keys.ToDictionary(k => k, k => file.Read(k));
        using var checkpoint = LoraBuild.SafeTensors.CheckpointReader.Open(TestPaths.Hf(family));
        var head = checkpoint.Read("lm_head.weight", TorchSharp.torch.ScalarType.Float32);
        TorchSharp.torch.manual_seed(3);
        tensors["base_model.model.lm_head.weight"] = head + TorchSharp.torch.randn_like(head) * head.std();
        LoraBuild.SafeTensors.SafeTensorsWriter.Write(Path.Combine(dir, "adapter_model.safetensors"), tensors);
        return dir;
    }

    [Fact]
    public async Task An_adapter_that_replaces_the_head_is_refused_by_the_batching_engine_and_served_one_request_at_a_time()
    {
        using var host = AdapterHost.Load(TestPaths.Hf("qwen3"), [new("whole", AdapterWithWholeHead("qwen3")), new("lora", TestPaths.Hf("qwen3", "adapter-lora"))],
            Fixture, new EngineOptions(MaxBatchSize: 4, PrefillChunkTokens: 16));
        var prompt = new List<int> { 5, 17, 99, 230, 41, 8 };
        var e = Assert.Throws<LoraBuild.Diagnostics.LoraBuildException>(() => host.Engine.Submit("whole", prompt, new SamplingSettings(MaxTokens: 4)));
        Assert.Equal("LB0054", e.Code);
        Assert.Contains("lm_head", e.Message);

        // One request at a time the head copy is applied: the output differs from the same LoRA without it.
        var options = new GenerationOptions(MaxNewTokens: 8);
        var whole = host.GenerateIds("whole", prompt, options);
        var loraOnly = host.GenerateIds("lora", prompt, options);
        Assert.NotEqual(loraOnly, whole);
        // After it, the batching engine serves the other adapter with the base head, not the copy left behind.
        host.GenerateIds("whole", prompt, options);
        Assert.Equal(loraOnly, await Collect(host.Engine.Submit("lora", prompt, new SamplingSettings(MaxTokens: 8))));
    }

    static readonly HostOptions Fixture = new(Device: "cpu", AcceptAdapterWithoutProvenance: true);

    [Theory]
    [InlineData("qwen3")]
    [InlineData("gemma2")] // sliding window and soft-capped attention per row
    public async Task Greedy_output_alone_equals_output_in_a_batch_of_four_adapters_and_the_base(string family)
    {
        using var host = AdapterHost.Load(TestPaths.Hf(family), FourAdapters(family), Fixture, new EngineOptions(MaxBatchSize: 8, PrefillChunkTokens: 7));
        var random = new Random(7);
        var requests = new[] { "lora", "dora", "lora-x3", "lora-quarter", AdapterHost.BaseOnly }
            .Select((adapter, i) => (Adapter: adapter, Prompt: Enumerable.Range(0, 5 + 6 * i).Select(_ => random.Next(3, 500)).ToList()))
            .ToList();
        var settings = new SamplingSettings(MaxTokens: 12);

        var alone = new List<IReadOnlyList<int>>();
        foreach (var (adapter, prompt) in requests) alone.Add(await Collect(host.Engine.Submit(adapter, prompt, settings)));
        var stepsAlone = host.Engine.Metrics.Steps;

        // All at once, then one more joining while the others decode.
        var handles = requests.Select(r => host.Engine.Submit(r.Adapter, r.Prompt, settings)).ToList();
        await handles[0].Tokens.WaitToReadAsync();
        var late = host.Engine.Submit(requests[1].Adapter, requests[1].Prompt, settings);
        var batched = await Task.WhenAll(handles.Append(late).Select(Collect));

        for (var i = 0; i < requests.Count; i++) Assert.Equal(alone[i], batched[i]);
        Assert.Equal(alone[1], batched[^1]);
        Assert.True(alone.All(a => a.Count > 0));
        // The batch really shared steps: more rows decoded per step than one.
        var stepsBatched = host.Engine.Metrics.Steps - stepsAlone;
        Assert.True(stepsBatched < alone.Sum(a => a.Count) + requests.Sum(r => r.Prompt.Count / 7 + 1), $"{stepsBatched} steps");
        // Each adapter changes the output (so routing rows to their adapters is what the equality shows).
        var sameprompt = requests[0].Prompt;
        var perAdapter = new List<IReadOnlyList<int>>();
        foreach (var adapter in requests.Select(r => r.Adapter)) perAdapter.Add(await Collect(host.Engine.Submit(adapter, sameprompt, settings)));
        Assert.Equal(perAdapter.Count, perAdapter.Select(p => string.Join(",", p)).Distinct().Count());

        // Alone, the engine computes what the one-request generator computes (whole-prompt prefill, the active adapter).
        for (var i = 0; i < requests.Count; i++)
            Assert.Equal(host.GenerateIds(requests[i].Adapter, requests[i].Prompt, new GenerationOptions(MaxNewTokens: 12)), alone[i]);
    }

    /// <summary>A request that ends with its first token (max tokens 1) is released like any other: counted finished,
    /// its cache slot returned (before, it stayed held forever and the server's memory grew with every such request).</summary>
    [Fact]
    public async Task Requests_that_end_at_their_first_token_are_released()
    {
        using var host = AdapterHost.Load(TestPaths.Hf("qwen3"), FourAdapters("qwen3"), Fixture, new EngineOptions(MaxBatchSize: 4, PrefillChunkTokens: 16));
        var prompt = Enumerable.Range(3, 9).ToList();
        for (var round = 0; round < 3; round++)
        {
            var handles = Enumerable.Range(0, 6).Select(i => host.Engine.Submit(i % 2 == 0 ? "lora" : AdapterHost.BaseOnly, prompt, new SamplingSettings(MaxTokens: 1))).ToList();
            foreach (var handle in handles) Assert.Single(await Collect(handle));
        }
        // Released on the engine's next sweep.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (host.Engine.Metrics.Adapters.Values.Sum(a => a.Finished) < 18 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(18, host.Engine.Metrics.Adapters.Values.Sum(a => a.Finished));
        Assert.Equal(0, host.Engine.Metrics.Running);
    }

    static async Task<IReadOnlyList<int>> Collect(GenerationHandle handle)
    {
        var tokens = new List<int>();
        await foreach (var token in handle.Tokens.ReadAllAsync()) tokens.Add(token);
        await handle.Completion;
        return tokens;
    }
}
