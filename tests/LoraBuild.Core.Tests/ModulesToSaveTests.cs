using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using LoraBuild.Training;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// PEFT's modules_to_save (Axolotl lora_modules_to_save): embed_tokens and lm_head trained whole beside the LoRA
/// factors, as trainable copies saved under PEFT's keys (base_model.model.&lt;module&gt;.weight) and listed in
/// adapter_config.json. The reference for the gradients is plain autograd on the base weights themselves: a copy that
/// starts equal to the base weight must get exactly the gradient the base weight would.
/// </summary>
public class ModulesToSaveTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public ModulesToSaveTests() => TestPaths.EnsureTorch();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    const string EmbedKey = "base_model.model.model.embed_tokens.weight";
    const string HeadKey = "base_model.model.lm_head.weight";

    static LoraConfig Config(params string[] modulesToSave) => new()
    {
        TargetModuleList = ["q_proj", "v_proj", "down_proj"],
        // Random B too, so the LoRA factors change the forward and their gradients depend on the copies'.
        InitLoraWeights = LoraInit.None,
        ModulesToSave = modulesToSave.Length == 0 ? null : modulesToSave,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Copies_get_the_gradients_autograd_gives_the_base_weights(bool checkpointing)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        var ids = golden.Read("input_ids");

        // Reference: the same LoRA adapter (same seed), the base embedding and head themselves made trainable, HF's plain
        // loss (full logits, mean cross-entropy).
        using var reference = ModelLoader.Load(TestPaths.ModelFolder("llama"));
        manual_seed(7);
        LoraModel.AddAdapter(reference, "default", Config());
        LoraModel.SetActiveAdapters(reference, "default");
        reference.Model.EmbedTokensWeight.requires_grad = true;
        reference.LmHead.Weight.requires_grad = true;
        reference.train();
        CausalLM.CausalLmLoss(reference.Forward(ids), ids).backward();

        // Ours: modules_to_save copies, training's fused loss path, with or without gradient checkpointing.
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama"));
        manual_seed(7);
        LoraModel.AddAdapter(model, "default", Config("embed_tokens", "lm_head"));
        LoraModel.SetActiveAdapters(model, "default");
        model.Model.GradientCheckpointing = checkpointing;
        model.train();
        model.TrainingLoss(ids, ids, ids.shape[0] * (ids.shape[1] - 1)).backward();

        Assert.Null(model.Model.EmbedTokensWeight.grad);
        Assert.Null(model.LmHead.Weight.grad);
        var ours = LoraModel.AdapterParameters(model, "default").ToDictionary(p => p.Key, p => p.Parameter);
        var theirs = LoraModel.AdapterParameters(reference, "default").ToDictionary(p => p.Key, p => p.Parameter);
        Assert.Equal(theirs.Keys.Order().Append(EmbedKey).Append(HeadKey).Order(), ours.Keys.Order());
        foreach (var (key, expected) in theirs.Select(p => (p.Key, p.Value.grad!))
                     .Append((EmbedKey, reference.Model.EmbedTokensWeight.grad!))
                     .Append((HeadKey, reference.LmHead.Weight.grad!)))
        {
            var actual = ours[key].grad!;
            Assert.Equal(ScalarType.Float32, actual.dtype);
            var relative = ((actual - expected).abs().max() / expected.abs().max()).item<float>();
            Assert.True(relative < 1e-4, $"{key}: relative grad error {relative}");
        }
    }

    /// <summary>
    /// Over an NF4 or int8 base (QLoRA, load_in_8bit) the embeddings and the head stay dense, as bitsandbytes keeps them:
    /// the copies are the exact base weights, and they get gradients through the quantised layers.
    /// </summary>
    [Theory]
    [InlineData("nf4")]
    [InlineData("int8")]
    public void Copies_over_a_quantised_base_are_the_dense_base_weights_and_train(string scheme)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        using var baseWeights = SafeTensorsFile.Open(TestPaths.Hf("llama", "model.safetensors"));
        var ids = golden.Read("input_ids");
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama"), null, null,
            new QuantizedLoading(Quantization.BaseQuantization.For(scheme, true)!));
        LoraModel.AddAdapter(model, "default", Config("embed_tokens", "lm_head"));
        LoraModel.SetActiveAdapters(model, "default");
        Assert.False(model.LmHead.IsQuantized);
        Assert.All(model.LinearLayers().Where(l => l.Name != CausalLM.OutputHeadName), l => Assert.True(l.Layer.IsQuantized, l.Name));
        var copies = ModulesToSave.Parameters(model, "default").ToDictionary(p => p.Key, p => p.Parameter);
        Assert.False(copies[EmbedKey].ne(baseWeights.Read("model.embed_tokens.weight")).any().item<bool>());
        Assert.False(copies[HeadKey].ne(baseWeights.Read("lm_head.weight")).any().item<bool>());
        model.train();
        model.TrainingLoss(ids, ids, ids.shape[0] * (ids.shape[1] - 1)).backward();
        Assert.All(copies.Values, c => Assert.True(c.grad!.abs().max().item<float>() > 0));
    }

    /// <summary>A module in modules_to_save is never a LoRA target (PEFT excludes it), and what is saved is PEFT's layout.</summary>
    [Fact]
    public void Saved_adapter_has_peft_keys_and_config_and_reloads_and_merges_to_the_same_logits()
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        var ids = golden.Read("input_ids");
        var config = new LoraConfig { TargetModuleRegex = LoraConfig.AllLinear, InitLoraWeights = LoraInit.None, ModulesToSave = ["embed_tokens", "lm_head"] };
        Tensor expected;
        using (var model = ModelLoader.Load(TestPaths.ModelFolder("llama")))
        {
            manual_seed(3);
            LoraModel.AddAdapter(model, "default", config);
            Assert.DoesNotContain(model.LinearLayers(), l => l.Name == CausalLM.OutputHeadName && l.Layer.Adapters.Count > 0);
            // Stand-ins for trained copies: the base weights moved, so a loader that ignored them would give other logits.
            using (no_grad())
                foreach (var (_, copy) in ModulesToSave.Parameters(model, "default"))
                    copy.add_(randn_like(copy).mul_(0.05));
            LoraModel.SetActiveAdapters(model, "default");
            model.eval();
            using (no_grad()) expected = model.Forward(ids);
            using (no_grad())
            {
                // The copies are in use: without the adapter the logits differ.
                LoraModel.SetActiveAdapters(model);
                Assert.True((model.Forward(ids) - expected).abs().max().item<float>() > 1e-2);
            }
            PeftAdapter.Save(Path.Combine(dir, "adapter"), model, "default", config);
        }

        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "adapter", PeftAdapter.WeightsFile)))
        {
            Assert.Contains(EmbedKey, file.Tensors.Keys);
            Assert.Contains(HeadKey, file.Tensors.Keys);
            Assert.Equal(new long[] { 512, 64 }, file.Tensors[EmbedKey].Shape);
            Assert.Equal(new long[] { 512, 64 }, file.Tensors[HeadKey].Shape);
            Assert.Equal(SafeTensorDType.F32, file.Tensors[HeadKey].DType);
            Assert.DoesNotContain(file.Tensors.Keys, k => k.Contains("lm_head.lora_") || k.Contains("embed_tokens.lora_") || k.Contains("modules_to_save"));
            // 2 layers x 7 linear layers x (A, B), and the two modules.
            Assert.Equal(2 * 7 * 2 + 2, file.Tensors.Count);
        }
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "adapter", LoraConfig.FileName))))
        {
            Assert.Equal(new[] { "embed_tokens", "lm_head" }, json.RootElement.GetProperty("modules_to_save").EnumerateArray().Select(e => e.GetString()));
            Assert.DoesNotContain("lm_head", json.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        }

        using (var loaded = ModelLoader.Load(TestPaths.ModelFolder("llama")))
        {
            var read = PeftAdapter.Load(Path.Combine(dir, "adapter"), loaded, "a");
            Assert.Equal(new[] { "embed_tokens", "lm_head" }, read.ModulesToSave!);
            LoraModel.SetActiveAdapters(loaded, "a");
            loaded.eval();
            using (no_grad()) AdapterParityTests.AssertClose(expected, loaded.Forward(ids), 1e-6, "reloaded adapter logits");

            LoraModel.Merge(loaded, "a");
            Assert.Empty(LoraModel.AdapterNames(loaded));
            using (no_grad()) AdapterParityTests.AssertClose(expected, loaded.Forward(ids), 1e-4, "merged logits");
            ModelWriter.Save(loaded, TestPaths.ModelFolder("llama"), Path.Combine(dir, "merged"));
        }
        using (var merged = ModelLoader.Load(Path.Combine(dir, "merged")))
        {
            merged.eval();
            using (no_grad()) AdapterParityTests.AssertClose(expected, merged.Forward(ids), 1e-4, "reloaded merged logits");
        }
    }

    [Fact]
    public void Adapter_file_without_a_saved_module_is_refused()
    {
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama"));
        var config = Config("lm_head");
        LoraModel.AddAdapter(model, "default", config);
        PeftAdapter.Save(Path.Combine(dir, "adapter"), model, "default", config);
        // The same tensors under a config that no longer lists lm_head: its weight is a stray tensor.
        File.WriteAllText(Path.Combine(dir, "adapter", LoraConfig.FileName), (config with { ModulesToSave = null }).ToJson());
        Assert.Equal(ErrorCodes.AdapterTargetNotFound, Assert.Throws<LoraBuildException>(() => PeftAdapter.Load(Path.Combine(dir, "adapter"), model, "b")).Code);
        // And a config that lists embed_tokens too, whose weight the file lacks.
        File.WriteAllText(Path.Combine(dir, "adapter", LoraConfig.FileName), (config with { ModulesToSave = ["embed_tokens", "lm_head"] }).ToJson());
        Assert.Equal(ErrorCodes.AdapterTensorMissing, Assert.Throws<LoraBuildException>(() => PeftAdapter.Load(Path.Combine(dir, "adapter"), model, "c")).Code);
    }

    [Theory]
    [InlineData("q_proj", ErrorCodes.AdapterUnsupported)]
    [InlineData("norm", ErrorCodes.AdapterUnsupported)]
    [InlineData("score", ErrorCodes.AdapterTargetNotFound)]
    public void Modules_other_than_embed_tokens_and_lm_head_are_refused(string name, string code)
    {
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama"));
        Assert.Equal(code, Assert.Throws<LoraBuildException>(() => LoraModel.AddAdapter(model, "default", Config(name))).Code);
    }

    /// <summary>
    /// Tied embeddings, as PEFT without ensure_weight_tying: the copy of embed_tokens feeds the input only; the head keeps
    /// multiplying by the base table. Merging cannot express that in a tied config and is refused.
    /// </summary>
    [Fact]
    public void Tied_embeddings_copy_feeds_the_input_only_and_merge_is_refused()
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama3-rope-tied", "golden.safetensors"));
        var ids = golden.Read("input_ids");
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama3-rope-tied"));
        Assert.True(model.Config.TieWordEmbeddings);
        LoraModel.AddAdapter(model, "default", Config("embed_tokens"));
        var copy = ModulesToSave.Parameters(model, "default").Single();
        Assert.Equal(EmbedKey, copy.Key);
        using (no_grad()) copy.Parameter.add_(randn_like(copy.Parameter).mul_(0.05));
        LoraModel.SetActiveAdapters(model, "default");
        model.eval();
        using (no_grad())
        {
            var logits = model.Forward(ids);
            var byBaseTable = nn.functional.linear(model.Model.Forward(ids), model.Model.EmbedTokensWeight);
            AdapterParityTests.AssertClose(byBaseTable, logits, 1e-5, "head over the base table");
            var byCopy = nn.functional.linear(model.Model.Forward(ids), copy.Parameter);
            Assert.True((byCopy - logits).abs().max().item<float>() > 1e-3);
        }
        Assert.Equal(ErrorCodes.AdapterUnsupported, Assert.Throws<LoraBuildException>(() => LoraModel.Merge(model, "default")).Code);
    }

    /// <summary>Generation with a KV cache (AdapterHost.Generate's path) uses the copies as the full forward does.</summary>
    [Fact]
    public void Cached_generation_with_copies_matches_the_merged_model()
    {
        using var scope = NewDisposeScope();
        var config = Config("embed_tokens", "lm_head");
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama"));
        manual_seed(5);
        LoraModel.AddAdapter(model, "default", config);
        using (no_grad())
            foreach (var (_, copy) in ModulesToSave.Parameters(model, "default")) copy.add_(randn_like(copy).mul_(0.2));
        LoraModel.SetActiveAdapters(model, "default");
        model.eval();
        int[] prompt = [1, 17, 42, 99, 7];
        var options = new GenerationOptions(MaxNewTokens: 12);
        var adapted = TextGenerator.Generate(model, prompt, new HashSet<int>(), options);
        LoraModel.SetActiveAdapters(model);
        var plain = TextGenerator.Generate(model, prompt, new HashSet<int>(), options);
        LoraModel.Merge(model, "default");
        var merged = TextGenerator.Generate(model, prompt, new HashSet<int>(), options);
        Assert.Equal(merged, adapted);
        Assert.NotEqual(plain, adapted);
    }

    /// <summary>Batched serving: rows of different adapters share the head, so an adapter that replaces it is refused there.</summary>
    [Fact]
    public void Mixed_batch_rows_with_a_replaced_head_are_refused()
    {
        using var scope = NewDisposeScope();
        using var model = ModelLoader.Load(TestPaths.ModelFolder("llama"));
        LoraModel.AddAdapter(model, "whole", Config("lm_head"));
        LoraModel.AddAdapter(model, "plain", Config());
        using var routing = new RowAdapterRouting(["whole", "plain"], model.Device);
        model.LmHead.SetRowRouting(routing);
        var e = Assert.Throws<LoraBuildException>(() => model.LmHead.Forward(zeros(2, 64)));
        Assert.Equal(ErrorCodes.AdapterUnsupported, e.Code);
        // Two active adapters that both replace the head have no defined result (PEFT refuses too).
        LoraModel.AddAdapter(model, "whole2", Config("lm_head"));
        Assert.Equal(ErrorCodes.AdapterUnsupported, Assert.Throws<LoraBuildException>(() => LoraModel.SetActiveAdapters(model, "whole", "whole2")).Code);
    }

    static string Alpaca => "{\"instruction\": \"Add 3 and 3\", \"input\": \"\", \"output\": \"6\"}";

    string WriteRun(string name, string extra = "")
    {
        var data = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Repeat(Alpaca, 8));
        var path = Path.Combine(dir, name + ".yml");
        File.WriteAllText(path, $"""
            base_model: {TestPaths.ModelFolder("llama")}
            datasets:
              - path: {data}
                type: alpaca
            output_dir: {Path.Combine(dir, name)}
            adapter: lora
            lora_r: 4
            lora_alpha: 8
            lora_target_modules: [q_proj, v_proj]
            lora_modules_to_save:
              - embed_tokens
              - lm_head
            micro_batch_size: 2
            sequence_len: 128
            max_steps: 4
            learning_rate: 0.01
            lr_scheduler: constant

            """ + extra);
        return path;
    }

    /// <summary>
    /// An Axolotl config with lora_modules_to_save trains: the adapter holds the LoRA factors and the two modules, the
    /// embedding rows of tokens the data never shows stay exactly the base's (their gradient is zero, so AdamW leaves
    /// them), the head's rows all move, and the adapter reloads to the logits training ended with.
    /// </summary>
    [Theory]
    [InlineData("false")]
    [InlineData("true")]
    public void Axolotl_config_trains_the_modules_whole_and_the_adapter_reloads_to_the_trained_logits(string bf16)
    {
        var path = WriteRun("run", $"bf16: {bf16}\n");
        // lorabuild check's logic accepts it and lists the setting.
        var report = ConfigCheck.Run(TrainingConfigLoader.Load(path), [], path);
        Assert.True(report.Ok, string.Join("\n", report.Errors.Select(e => e.Message)));
        Assert.Contains(("modules_to_save", "embed_tokens,lm_head"), report.Settings);
        var settings = TrainingConfigLoader.Load(path);
        Assert.Equal(new[] { "embed_tokens", "lm_head" }, settings.ModulesToSave);
        Assert.Equal(new[] { "embed_tokens", "lm_head" }, settings.ToLoraConfig().ModulesToSave!);
        var log = new List<string>();
        var result = new Trainer(settings, e => log.Add(e.Message)).Run(resume: false);
        Assert.Contains(log, l => l.Contains("model.embed_tokens and lm_head trained whole (modules_to_save)"));
        // 512 x 64 twice, plus r=4 factors on q_proj (64 -> 64) and v_proj (64 -> 32) in 2 layers.
        Assert.Equal(2 * 512 * 64 + 2 * (4 * 64 + 64 * 4 + 4 * 64 + 32 * 4), result.TrainableParameters);

        var adapter = Path.Combine(result.OutputDirectory, Trainer.AdapterFolder);
        using var scope = NewDisposeScope();
        using var probe = SafeTensorsFile.Open(Path.Combine(result.OutputDirectory, Trainer.ProbeFile));
        var ids = probe.Read("input_ids");
        using var baseWeights = SafeTensorsFile.Open(TestPaths.Hf("llama", "model.safetensors"));
        using (var file = SafeTensorsFile.Open(Path.Combine(adapter, PeftAdapter.WeightsFile)))
        {
            Assert.Equal(2 * 2 * 2 + 2, file.Tensors.Count);
            var embed = file.Read(EmbedKey);
            // The copies start from the weights as the model holds them: in bf16, the checkpoint's rounded.
            Tensor AsHeld(Tensor t) => bf16 == "true" ? t.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32) : t;
            var baseEmbed = AsHeld(baseWeights.Read("model.embed_tokens.weight"));
            var changed = embed.ne(baseEmbed).any(1);
            var changedRows = Enumerable.Range(0, (int)changed.shape[0]).Where(i => changed[i].item<bool>()).ToHashSet();
            var seen = ids.data<long>().Select(i => (int)i).ToHashSet();
            Assert.True(changedRows.IsSubsetOf(seen), $"rows changed for unseen tokens: {string.Join(",", changedRows.Except(seen))}");
            Assert.True(changedRows.Count >= seen.Count - 1, $"{changedRows.Count} of {seen.Count} seen tokens' rows changed");
            var head = file.Read(HeadKey);
            Assert.Equal(512, head.ne(AsHeld(baseWeights.Read("lm_head.weight"))).any(1).sum().item<long>());
        }

        using var model = AdapterLoader.Load(TestPaths.ModelFolder("llama"), [new AdapterSource("a", adapter)], bf16 == "true" ? ScalarType.BFloat16 : null);
        LoraModel.SetActiveAdapters(model, "a");
        model.eval();
        using (no_grad()) AdapterParityTests.AssertClose(probe.Read("logits"), model.Forward(ids), 1e-5, "reloaded trained adapter");
    }

    /// <summary>The copies and their optimizer state are in the checkpoints: a resumed run ends bit-identical to an uninterrupted one.</summary>
    [Fact]
    public void Interrupted_run_resumes_to_the_same_adapter()
    {
        var whole = new Trainer(TrainingConfigLoader.Load(WriteRun("whole")), _ => { }).Run(resume: false);

        var path = WriteRun("resumed", "save_steps: 2\n");
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(TrainingConfigLoader.Load(path), e =>
        {
            if (e.Message.StartsWith("checkpoint:")) cancel.Cancel();
        }).Run(resume: false, cancel.Token));
        var log = new List<string>();
        var resumed = new Trainer(TrainingConfigLoader.Load(path), e => log.Add(e.Message)).Run(resume: true);
        Assert.Contains(log, l => l.Contains("resumed from") && l.Contains("at step 2/4"));

        using var a = SafeTensorsFile.Open(Path.Combine(whole.OutputDirectory, Trainer.AdapterFolder, PeftAdapter.WeightsFile));
        using var b = SafeTensorsFile.Open(Path.Combine(resumed.OutputDirectory, Trainer.AdapterFolder, PeftAdapter.WeightsFile));
        Assert.Equal(a.Tensors.Keys.Order(), b.Tensors.Keys.Order());
        foreach (var key in a.Tensors.Keys)
        {
            using var x = a.Read(key);
            using var y = b.Read(key);
            Assert.True(x.bytes.SequenceEqual(y.bytes), key);
        }
    }

    [Theory]
    [InlineData("lora_modules_to_save: [embed_tokens, q_proj]", "'q_proj' is not supported")]
    [InlineData("modules_to_save: [lm_head]\nmethod: full\n", "modules_to_save apply to LoRA only")]
    public void Unsupported_modules_to_save_settings_are_refused(string yaml, string message)
    {
        var path = Path.Combine(dir, "c.yml");
        File.WriteAllText(path, "base_model: m\ndataset: d.jsonl\noutput_dir: o\n" + yaml + "\n");
        var e = Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(path).Validate(path));
        Assert.Equal(ErrorCodes.ConfigValueInvalid, e.Code);
        Assert.Contains(message, e.Message);
    }
}
