using LoraBuild.Diagnostics;
using LoraBuild.Training;

namespace LoraBuild.Tests;

/// <summary>
/// Axolotl's own example configs (tests/fixtures/axolotl-examples, copied unchanged; SOURCE.md names the commit) pass
/// lorabuild check: every key is mapped or noted; load_in_8bit: true maps onto an int8 base, with a note at its line.
/// </summary>
public class AxolotlExamplesTests
{
    static readonly string Folder = Path.Combine(TestPaths.Fixtures, "axolotl-examples");

    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Folder).Where(f => f.EndsWith(".yml") || f.EndsWith(".yaml")).Order()) data.Add(Path.GetFileName(f));
        return data;
    }

    static (TrainingConfig Config, CheckReport Report) Check(string name)
    {
        var path = Path.Combine(Folder, name);
        var errors = new List<LoraBuildException>();
        var config = TrainingConfigLoader.Load(path, null, errors);
        return (config, ConfigCheck.Run(config, errors, path));
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Passes_check(string name)
    {
        var (config, report) = Check(name);
        Assert.True(report.Ok, string.Join(Environment.NewLine, report.Errors));
        var text = File.ReadAllLines(Path.Combine(Folder, name));
        var eightBitLine = Array.FindIndex(text, l => l.Trim() == "load_in_8bit: true") + 1;
        var fourBit = text.Any(l => l.Trim() is "load_in_4bit: true" or "adapter: qlora");
        Assert.Equal(eightBitLine > 0 ? "int8" : fourBit ? "nf4" : "none", config.Quantization);
        // The 8-bit ones say, at that line, that the base is int8 weight-only (not LLM.int8()'s outlier matmul).
        var eightBitNotes = report.Notes.Where(n => n.Contains(": note: load_in_8bit:")).ToList();
        if (eightBitLine == 0) Assert.Empty(eightBitNotes);
        else Assert.Contains($"({eightBitLine},1): note: load_in_8bit: ", Assert.Single(eightBitNotes));
        // The base model and datasets are Hub ids: listed as what a run would fetch, never downloaded by check.
        Assert.Contains(report.WouldFetch, f => f.StartsWith("model ", StringComparison.Ordinal));
        Assert.Contains(report.WouldFetch, f => f.StartsWith("dataset ", StringComparison.Ordinal));
        // One note per key at most.
        Assert.Equal(report.Notes.Count, report.Notes.Select(n => n.Split(": note: ")[1].Split(':')[0]).Distinct().Count());
    }

    [Fact]
    public void Llama3_qlora_1b_maps_onto_our_settings()
    {
        var (config, report) = Check("llama-3--qlora-1b.yml");
        Assert.True(report.Ok);
        Assert.Equal(("nf4", 32, 16.0, 0.05), (config.Quantization, config.R, config.LoraAlpha, config.LoraDropout));
        Assert.Equal(["gate_proj", "down_proj", "up_proj", "q_proj", "v_proj", "k_proj", "o_proj"], config.TargetModules);
        Assert.Equal(("cosine", 0.1, 4, 1, 0.1), (config.LrScheduler, config.WarmupRatio, config.EvalsPerEpoch, config.SavesPerEpoch, config.ValSetSize));
        Assert.Equal(("auto", true, true, 2048), (config.Dtype, config.GradientCheckpointing, config.SamplePacking, config.SequenceLen));
        Assert.Equal("<|end_of_text|>", config.SpecialTokenOverrides["pad_token"]);
        var dataset = Assert.Single(config.Datasets);
        Assert.Equal(("teknium/GPT4-LLM-Cleaned", "alpaca", true), (dataset.Path, dataset.Type, dataset.IsHub));
        // Empty keys are unset and say nothing (wandb_project:, lora_model_dir:, resume_from_checkpoint:).
        Assert.DoesNotContain(report.Notes, n => n.Contains("wandb") || n.Contains("lora_model_dir") || n.Contains("resume_from_checkpoint"));
        Assert.Contains(report.Notes, n => n.Contains("(54,1): note: attn_implementation:"));
    }

    [Fact]
    public void Qwen3_sharegpt_dataset_fields_and_split_slice_are_read()
    {
        var (config, report) = Check("qwen3--32b-qlora.yaml");
        Assert.True(report.Ok);
        var dataset = Assert.Single(config.Datasets);
        Assert.Equal(("chat_template", "conversations", "train[:20%]"), (dataset.Type, dataset.FieldMessages, dataset.Split));
        Assert.Equal(("from", "value"), (dataset.MessagePropertyMappings["role"], dataset.MessagePropertyMappings["content"]));
        Assert.Contains(report.WouldFetch, f => f.StartsWith("dataset mlabonne/FineTome-100k split train[:20%]"));
    }

    [Fact]
    public void Mistral_lora_target_linear_wins_over_the_module_list() =>
        Assert.Equal("all-linear", Check("mistral--qlora.yml").Config.ToLoraConfig().TargetModuleRegex);
}

/// <summary>An empty value is unset: in the file it says nothing; a later empty --set puts the key back to its default.</summary>
public class EmptyValueTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Empty_set_after_the_file_restores_defaults()
    {
        var path = Path.Combine(dir, "c.yml");
        File.WriteAllText(path, "eval_dataset: e.jsonl\nlearning_rate: 0.1\nwandb_project:\nlora_model_dir:\n");
        var config = TrainingConfigLoader.Load(path);
        Assert.Empty(config.Notes);
        Assert.NotNull(config.EvalDataset);
        config.ApplyAll([("eval_dataset", new TrainingConfig.Value("", null, null, "command line", 0)), ("learning_rate", new TrainingConfig.Value("", null, null, "command line", 0))]);
        Assert.Null(config.EvalDataset);
        Assert.Empty(config.EvalDatasets);
        Assert.Equal(new TrainingConfig().LearningRate, config.LearningRate);
    }
}

/// <summary>docs/axolotl-keys.md stays true: it names every key of the noted / refused table.</summary>
public class AxolotlKeyDocTests
{
    [Fact]
    public void Every_noted_or_refused_key_is_in_the_doc()
    {
        var doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "axolotl-keys.md"));
        Assert.Empty(LoraBuild.Training.Axolotl.AxolotlKeys.Table.Where(e => !doc.Contains($"`{e.Name}`")).Select(e => e.Name));
        // And no key is both ours and in the table (one meaning per key).
        Assert.Empty(LoraBuild.Training.Axolotl.AxolotlKeys.Table.Where(e => TrainingConfig.Keys.Count(k => k.Name == e.Name || k.Aliases.Contains(e.Name)) > 1).Select(e => e.Name));
    }
}
