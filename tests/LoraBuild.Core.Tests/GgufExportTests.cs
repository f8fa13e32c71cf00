using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Export.Gguf;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using LoraBuild.Tokenization;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// The GGUF export judged by llama.cpp itself: node-llama-cpp loads our base GGUF, base + our LoRA GGUF, and our merged
/// GGUF, and its greedy continuations (f32) equal LoraBuild's generation token for token, and its next-token
/// probabilities equal ours within <see cref="ProbabilityTolerance"/>.
/// </summary>
public class GgufExportTests : IDisposable
{
    /// <summary>
    /// Absolute difference of next-token probabilities, f32 weights and f32 KV cache on both sides: 1e-4, and 1e-3 for the
    /// GELU families (Gemma), whose GELU ggml's CPU backend computes through an f16 lookup table (measured: llama, qwen,
    /// phi3, mistral within 1e-6; Gemma 2 1.2e-5; Gemma 3 up to 5.8e-4 against transformers' logits).
    /// </summary>
    static double ProbabilityTolerance(ModelConfig config) => config.HiddenAct.StartsWith("gelu", StringComparison.Ordinal) ? 1e-3 : 1e-4;
    const int NewTokens = 8;

    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string> Families()
    {
        var data = new TheoryData<string>();
        foreach (var family in new[] { "llama", "llama3-rope-tied", "mistral", "qwen2", "phi3", "qwen3", "gemma2", "gemma3", "gemma3-rope-linear" }) data.Add(family);
        return data;
    }

    /// <summary>8 prompts: prefixes of the fixture's golden input_ids (both rows, four lengths).</summary>
    static List<int[]> GoldenPrompts(string modelDirectory)
    {
        using var golden = SafeTensorsFile.Open(Path.Combine(modelDirectory, "golden.safetensors"));
        using var ids = golden.Read("input_ids", ScalarType.Int64);
        var rows = ids.data<long>().ToArray().Select(x => (int)x).Chunk((int)ids.shape[1]).ToArray();
        return rows.SelectMany(row => new[] { 3, 6, 9, 12 }.Select(n => row[..n])).ToList();
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Llama_cpp_runs_our_base_adapter_and_merged_gguf_as_lorabuild_does(string family)
    {
        TestPaths.EnsureTorch();
        var model = TestPaths.ModelFolder(family);
        var adapter = Path.Combine(model, "adapter-lora");
        var prompts = GoldenPrompts(model);
        AssertSameAsLlamaCpp(model, adapter, prompts);
    }

    [Fact]
    public void Llama_cpp_runs_the_digits_example_base_as_lorabuild_does()
    {
        TestPaths.EnsureTorch();
        var model = Path.Combine(TestPaths.RepoRoot, "examples", "digits", "base");
        var tokenizer = HfTokenizer.Load(model);
        var prompts = new[] { "12+7=", "3+4=", "99+1=", "0+0=", "45+45=", "8+13=", "100+23=", "7+7=" }
            .Select(p => tokenizer.Encode(p, addSpecialTokens: true).ToArray()).ToList();
        AssertSameAsLlamaCpp(model, null, prompts);
    }

    void AssertSameAsLlamaCpp(string model, string? adapter, List<int[]> prompts)
    {
        var config = ModelConfig.Load(model);
        var baseGguf = Path.Combine(dir, "base.gguf");
        GgufModelExporter.Export(model, null, baseGguf, GgufOutType.F32, name: "fixture");
        var jobs = new List<object> { Job(baseGguf, null, prompts, config.VocabSize) };
        string? loraGguf = null, mergedGguf = null;
        if (adapter is not null)
        {
            loraGguf = Path.Combine(dir, "lora.gguf");
            mergedGguf = Path.Combine(dir, "merged.gguf");
            GgufAdapterExporter.Export(model, adapter, loraGguf, GgufOutType.F32);
            GgufModelExporter.Export(model, adapter, mergedGguf, GgufOutType.F32, name: "fixture");
            jobs.Add(Job(baseGguf, loraGguf, prompts, config.VocabSize));
            jobs.Add(Job(mergedGguf, null, prompts, config.VocabSize));
        }
        var replies = LlamaCppOracle.Llama(jobs);
        AssertHuggingFaceGgufReads(baseGguf, loraGguf, config, adapter);

        var ours = Ours(model, null, prompts);
        var tolerance = ProbabilityTolerance(config);
        AssertReply(ours, replies[0], "base", tolerance);
        if (adapter is not null)
        {
            var oursLora = Ours(model, adapter, prompts);
            AssertReply(oursLora, replies[1], "base + LoRA GGUF", tolerance);
            AssertReply(oursLora, replies[2], "merged GGUF", tolerance);
            Assert.NotEqual(ours.Probabilities[0], oursLora.Probabilities[0]); // the adapter changes the model
        }
    }

    /// <summary>@huggingface/gguf, an independent reader, sees our metadata and tensor infos.</summary>
    static void AssertHuggingFaceGgufReads(string baseGguf, string? loraGguf, ModelConfig config, string? adapter)
    {
        var model = LlamaCppOracle.ReadGguf(baseGguf);
        var metadata = model.GetProperty("metadata");
        var arch = metadata.GetProperty("general.architecture").GetString()!;
        Assert.Equal(3, model.GetProperty("version").GetInt32());
        Assert.Equal(config.NumHiddenLayers, metadata.GetProperty($"{arch}.block_count").GetInt32());
        Assert.Equal(config.HiddenSize, metadata.GetProperty($"{arch}.embedding_length").GetInt32());
        Assert.Equal(config.VocabSize, metadata.GetProperty("tokenizer.ggml.tokens").GetProperty("length").GetInt32());
        var tensors = model.GetProperty("tensorInfos").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!, t => t);
        // ggml order: fastest dimension first.
        Assert.Equal([config.HiddenSize, config.VocabSize], tensors["token_embd.weight"].GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(config.TieWordEmbeddings, !tensors.ContainsKey("output.weight"));
        Assert.Equal(0, tensors["blk.0.attn_norm.weight"].GetProperty("dtype").GetInt32()); // F32
        if (loraGguf is null) return;
        var lora = LlamaCppOracle.ReadGguf(loraGguf);
        var loraMetadata = lora.GetProperty("metadata");
        Assert.Equal("adapter", loraMetadata.GetProperty("general.type").GetString());
        Assert.Equal("lora", loraMetadata.GetProperty("adapter.type").GetString());
        Assert.Equal(LoraConfig.Load(adapter!).LoraAlpha, loraMetadata.GetProperty("adapter.lora.alpha").GetDouble());
        var pairs = lora.GetProperty("tensorInfos").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToList();
        Assert.All(pairs, name => Assert.True(name.EndsWith(".weight.lora_a") || name.EndsWith(".weight.lora_b"), name));
        Assert.All(pairs, name => Assert.True(tensors.ContainsKey(name[..name.LastIndexOf('.')]), $"{name} targets no base tensor"));
    }

    [Fact]
    public void DoRA_exports_merged_only_and_the_merged_gguf_runs_as_lorabuild_does()
    {
        TestPaths.EnsureTorch();
        var model = TestPaths.ModelFolder("qwen3");
        var adapter = Path.Combine(model, "adapter-dora");
        var error = Assert.Throws<LoraBuildException>(() => GgufAdapterExporter.Export(model, adapter, Path.Combine(dir, "dora.gguf"), GgufOutType.F32));
        Assert.Equal(ErrorCodes.GgufDoraAdapter, error.Code);
        Assert.False(File.Exists(Path.Combine(dir, "dora.gguf")));
        var merged = Path.Combine(dir, "dora-merged.gguf");
        GgufModelExporter.Export(model, adapter, merged, GgufOutType.F32);
        var prompts = GoldenPrompts(model);
        var config = ModelConfig.Load(model);
        var reply = LlamaCppOracle.Llama([Job(merged, null, prompts, config.VocabSize)])[0];
        AssertReply(Ours(model, adapter, prompts), reply, "merged DoRA GGUF", ProbabilityTolerance(config));
    }

    /// <summary>f16, bf16 and q8_0 files load in llama.cpp and stay close to the f32 export's next-token distribution.</summary>
    [Theory]
    [InlineData(GgufOutType.F16, 2e-3)]
    [InlineData(GgufOutType.BF16, 2e-2)]
    [InlineData(GgufOutType.Q8_0, 2e-2)]
    public void Reduced_precision_exports_stay_close_to_f32(GgufOutType type, double tolerance)
    {
        TestPaths.EnsureTorch();
        var model = TestPaths.ModelFolder("qwen3");
        var prompts = GoldenPrompts(model);
        var vocabulary = ModelConfig.Load(model).VocabSize;
        var f32 = Path.Combine(dir, "f32.gguf");
        var reduced = Path.Combine(dir, "reduced.gguf");
        var adapter = Path.Combine(dir, "lora.gguf");
        GgufModelExporter.Export(model, null, f32, GgufOutType.F32);
        GgufModelExporter.Export(model, null, reduced, type);
        GgufAdapterExporter.Export(model, Path.Combine(model, "adapter-lora"), adapter, type);
        var replies = LlamaCppOracle.Llama([Job(f32, null, prompts, vocabulary), Job(reduced, null, prompts, vocabulary), Job(reduced, adapter, prompts, vocabulary)]);
        var expected = replies[0].GetProperty("probabilities").EnumerateArray().Select(p => p.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToList();
        var actual = replies[1].GetProperty("probabilities").EnumerateArray().Select(p => p.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToList();
        var worst = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Max()).Max();
        Assert.True(worst <= tolerance, $"{type}: next-token probabilities move by {worst:E2} from f32 (tolerance {tolerance:E0})");
        Assert.True(worst > 0, $"{type}: identical to f32, so the weights were not stored as {type}");
        var withAdapter = replies[2].GetProperty("probabilities").EnumerateArray().Select(p => p.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToList();
        Assert.True(withAdapter.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Max()).Max() > 1e-3, "the adapter GGUF changes nothing");
        var types = LlamaCppOracle.ReadGguf(reduced).GetProperty("tensorInfos").EnumerateArray()
            .ToDictionary(t => t.GetProperty("name").GetString()!, t => t.GetProperty("dtype").GetInt32());
        Assert.Equal((int)type.TensorType([128, 64]), types["blk.0.ffn_up.weight"]);
        Assert.Equal((int)GgmlType.F32, types["blk.0.attn_norm.weight"]);
    }

    static object Job(string gguf, string? lora, List<int[]> prompts, int vocabularySize) =>
        new { model = gguf, lora, prompts, vocabularySize, maxTokens = NewTokens, stopIds = Array.Empty<int>(), probabilities = true };

    sealed record Expected(List<int[]> Continuations, List<double[]> Probabilities);

    /// <summary>LoraBuild's greedy generation (what <c>lorabuild generate</c> runs) and its next-token distribution, f32 on the CPU.</summary>
    static Expected Ours(string model, string? adapter, List<int[]> prompts)
    {
        using var loaded = AdapterLoader.Load(model, adapter is null ? [] : [new AdapterSource("default", adapter)], ScalarType.Float32, CPU);
        if (adapter is not null) LoraModel.SetActiveAdapters(loaded, "default");
        var continuations = prompts.Select(p => TextGenerator.Generate(loaded, p, new HashSet<int>(), new GenerationOptions(NewTokens)).ToArray()).ToList();
        var probabilities = new List<double[]>();
        using (no_grad())
            foreach (var prompt in prompts)
            {
                using var scope = NewDisposeScope();
                var logits = loaded.Forward(tensor(prompt.Select(x => (long)x).ToArray()).unsqueeze(0));
                probabilities.Add(logits[0, -1].to_type(ScalarType.Float64).softmax(0).data<double>().ToArray());
            }
        return new Expected(continuations, probabilities);
    }

    static void AssertReply(Expected ours, JsonElement reply, string what, double tolerance)
    {
        var continuations = reply.GetProperty("continuations").EnumerateArray().Select(c => c.EnumerateArray().Select(t => t.GetInt32()).ToArray()).ToList();
        var probabilities = reply.GetProperty("probabilities").EnumerateArray().Select(c => c.EnumerateArray().Select(t => t.GetDouble()).ToArray()).ToList();
        Assert.Equal(ours.Continuations.Count, continuations.Count);
        for (var i = 0; i < continuations.Count; i++)
        {
            Assert.True(ours.Continuations[i].Length == NewTokens, $"{what}: prompt {i} generated {ours.Continuations[i].Length} tokens");
            Assert.True(ours.Continuations[i].SequenceEqual(continuations[i]),
                $"{what}: prompt {i}: LoraBuild [{string.Join(", ", ours.Continuations[i])}] vs llama.cpp [{string.Join(", ", continuations[i])}]");
            var worst = ours.Probabilities[i].Zip(probabilities[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= tolerance, $"{what}: prompt {i}: next-token probabilities differ by {worst:E2} (tolerance {tolerance:E0})");
        }
    }
}
