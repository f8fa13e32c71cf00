using System.Text.Json.Nodes;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// Decoding with the key/value cache against recomputing the whole sequence, on prompts longer than the sliding
/// window: a sliding layer's cache keeps only window - 1 positions, and that must not change a single logit.
/// </summary>
public class GenerationCacheTests
{
    public GenerationCacheTests() => TestPaths.EnsureTorch();

    const int PromptLength = 12;
    const int NewTokens = 10;

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma3")]
    [InlineData("gemma3-rope-linear@v5")]
    [InlineData("qwen3-sliding")]
    public void Greedy_generation_with_cache_equals_generation_without(string family)
    {
        using var scope = NewDisposeScope();
        using var model = Load(family);
        var window = model.Config.SlidingWindow!.Value;
        Assert.True(PromptLength > window);
        var prompt = Prompt(family);

        var cached = TextGenerator.Generate(model, prompt, new HashSet<int>(), new GenerationOptions(MaxNewTokens: NewTokens));

        var uncached = new List<int>(prompt);
        using (no_grad())
        {
            for (var step = 0; step < NewTokens; step++)
            {
                using var stepScope = NewDisposeScope();
                var ids = tensor(uncached.Select(i => (long)i).ToArray(), [1, uncached.Count]);
                uncached.Add((int)model.Forward(ids)[0, -1].argmax().item<long>());
            }
        }
        Assert.Equal(uncached.Skip(PromptLength), cached);
    }

    [Theory]
    [InlineData("gemma2")]
    [InlineData("gemma3")]
    [InlineData("qwen3-sliding")]
    public void Cached_logits_equal_full_recomputation_and_sliding_layers_hold_only_their_window(string family)
    {
        using var scope = NewDisposeScope();
        using var model = Load(family);
        model.eval();
        using var _ = no_grad();
        var config = model.Config;
        var window = config.SlidingWindow!.Value;
        var sequence = tensor(Prompt(family, PromptLength + NewTokens).Select(i => (long)i).ToArray(), [1, PromptLength + NewTokens]);
        var full = model.Forward(sequence);

        using var cache = new KeyValueCache(config.NumHiddenLayers);
        var prefill = model.Forward(sequence.narrow(1, 0, PromptLength), cache);
        AdapterParityTests.AssertClose(full.narrow(1, 0, PromptLength), prefill, 1e-4, $"{family} prefill");
        for (var position = PromptLength; position < PromptLength + NewTokens; position++)
        {
            var step = model.Forward(sequence.narrow(1, position, 1), cache);
            AdapterParityTests.AssertClose(full.narrow(1, position, 1), step, 1e-4, $"{family} position {position}");
            for (var layer = 0; layer < config.NumHiddenLayers; layer++)
                Assert.Equal(config.LayerType(layer) == AttentionKind.Sliding ? window - 1 : position + 1, cache.Held(layer));
        }
        Assert.Equal(PromptLength + NewTokens, cache.Length);
    }

    static CausalLM Load(string family)
    {
        if (family != "qwen3-sliding") return ModelLoader.Load(TestPaths.ModelFolder(family));
        // Qwen3 with use_sliding_window: layers from max_window_layers on slide (here layers 1 and 2, window 4).
        var folder = TestPaths.TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.Hf("qwen3"))) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        config["use_sliding_window"] = true;
        config["sliding_window"] = 4;
        config["max_window_layers"] = 1;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        var model = ModelLoader.Load(folder);
        Assert.Equal([AttentionKind.Full, AttentionKind.Sliding, AttentionKind.Sliding], model.Config.LayerTypes);
        return model;
    }

    /// <summary>Golden input ids (HF's test sequence), extended by repetition when more are asked for.</summary>
    static IReadOnlyList<int> Prompt(string family, int length = PromptLength)
    {
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family == "qwen3-sliding" ? "qwen3" : family, "golden.safetensors"));
        using var ids = golden.Read("input_ids");
        var row = ids[0].data<long>().Select(i => (int)i).ToArray();
        return Enumerable.Range(0, length).Select(i => row[i % row.Length]).ToList();
    }
}
