using LoraBuild.Training;

namespace LoraBuild.Tests;

/// <summary>
/// Three of Axolotl's example configs train end to end, as they are but for their Hub ids: base_model and the dataset path
/// point at a fixture model of the family and a small local dataset of the config's type (HubAxolotlExamplesTests in Cli.Tests runs three of them against the Hub emulator instead),
/// with --set max_steps=2, sequence_len=256 (and chat_template: chatml where the fixture tokenizer has no template of its own).
/// </summary>
public class AxolotlTrainingTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static string Alpaca(int i) => $"{{\"instruction\": \"Add {i} and {i}\", \"input\": \"{(i % 2 == 0 ? "" : "quickly")}\", \"output\": \"{2 * i}\"}}";

    static string ShareGpt(int i) =>
        $"{{\"conversations\": [{{\"from\": \"system\", \"value\": \"You add.\"}}, {{\"from\": \"human\", \"value\": \"{i}+{i}?\"}}, {{\"from\": \"gpt\", \"value\": \"{2 * i}\"}}]}}";

    [Theory]
    [InlineData("mistral--qlora.yml", "mistral", "alpaca", false)]
    [InlineData("qwen3--32b-qlora.yaml", "qwen3", "sharegpt", true)]
    [InlineData("gemma3--gemma-3-1b-qlora.yml", "gemma3", "sharegpt", true)]
    public void Example_config_trains_with_max_steps(string example, string family, string rows, bool chatml)
    {
        var data = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Range(1, 20).Select(rows == "alpaca" ? Alpaca : (Func<int, string>)ShareGpt));
        var lines = File.ReadAllLines(Path.Combine(TestPaths.Fixtures, "axolotl-examples", example))
            .Select(l => l.StartsWith("base_model:") ? $"base_model: {TestPaths.ModelFolder(family)}"
                : l.TrimStart().StartsWith("- path:") ? l[..l.IndexOf('-')] + $"- path: {data}" : l);
        var config = Path.Combine(dir, example);
        File.WriteAllLines(config, lines);

        var settings = TrainingConfigLoader.Load(config);
        // sequence_len 256 keeps the CPU test short (the examples say 2048 to 8192; the rows here are far shorter).
        var sets = new List<(string, TrainingConfig.Value)> { ("max_steps", Set("2")), ("sequence_len", Set("256")), ("output_dir", Set(Path.Combine(dir, "out"))) };
        if (chatml) sets.Add(("chat_template", Set("chatml")));
        settings.ApplyAll(sets);
        var log = new List<string>();
        var result = new Trainer(settings, e => log.Add(e.Message)).Run(resume: false);

        Assert.Equal(2, result.Steps);
        Assert.True(double.IsFinite(result.FinalLoss));
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, Trainer.AdapterFolder, "adapter_model.safetensors")), string.Join("\n", log));
        // The Axolotl settings took effect: QLoRA over NF4, the example's rank, and the notes were printed once each.
        Assert.Contains(log, l => l.Contains("over an NF4 base") && l.Contains($"r={settings.R}"));
        Assert.Contains(log, l => l.Contains("note: optimizer: ") && l.Contains("kept in 32 bits"));
        Assert.Contains(log, l => l.Contains("warmup_ratio 0.1 = 0 warm-up steps"));
    }

    /// <summary>
    /// An 8-bit example (tiny-llama lora: load_in_8bit, lora_target_linear, r 32) trains over an int8 base and learns: the
    /// loss falls; lorabuild.json says int8, and loading the adapter for use quantises the base to int8 again.
    /// </summary>
    [Fact]
    public void Load_in_8bit_example_trains_over_an_int8_base_and_lowers_the_loss()
    {
        var data = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(data, Enumerable.Range(1, 16).Select(_ => Alpaca(3)));
        var lines = File.ReadAllLines(Path.Combine(TestPaths.Fixtures, "axolotl-examples", "tiny-llama--lora.yml"))
            .Select(l => l.StartsWith("base_model:") ? $"base_model: {TestPaths.ModelFolder("llama")}"
                : l.TrimStart().StartsWith("- path:") ? l[..l.IndexOf('-')] + $"- path: {data}" : l);
        var config = Path.Combine(dir, "tiny-llama--lora.yml");
        File.WriteAllLines(config, lines);
        var settings = TrainingConfigLoader.Load(config);
        // One repeated row, a high learning rate, no warm-up and a constant schedule: 12 steps must lower the loss (5.97 -> 4.49 when written).
        settings.ApplyAll([("max_steps", Set("12")), ("sequence_len", Set("160")), ("output_dir", Set(Path.Combine(dir, "out"))),
            ("learning_rate", Set("0.01")), ("warmup_ratio", Set("0")), ("lr_scheduler", Set("constant")),
            ("gradient_accumulation_steps", Set("1")), ("val_set_size", Set("0")), ("evals_per_epoch", Set("0")), ("saves_per_epoch", Set("0"))]);
        Assert.Equal("int8", settings.Quantization);
        var log = new List<string>();
        var result = new Trainer(settings, e => log.Add(e.Message)).Run(resume: false);

        Assert.Equal(12, result.Steps);
        Assert.Contains(log, l => l.Contains("over an int8 (row-wise absmax, weight-only) base") && l.Contains("r=32"));
        Assert.Contains(log, l => l.Contains("note: load_in_8bit: "));
        var first = result.Curve.Take(2).Average(p => p.Loss);
        var last = result.Curve.TakeLast(2).Average(p => p.Loss);
        Assert.True(last < 0.85 * first, $"loss {first} -> {last}");
        var adapter = Path.Combine(result.OutputDirectory, Trainer.AdapterFolder);
        Assert.Equal("int8", LoraBuild.Adapters.AdapterManifest.Load(Path.Combine(adapter, LoraBuild.Adapters.AdapterManifest.FileName)).Quantization);
        using var model = LoraBuild.Adapters.AdapterLoader.Load(TestPaths.ModelFolder("llama"), [new LoraBuild.Adapters.AdapterSource("a", adapter)]);
        Assert.All(model.LinearLayers().Where(l => l.Name != LoraBuild.Models.CausalLM.OutputHeadName),
            l => Assert.IsType<LoraBuild.Quantization.Int8RowwiseTensor>(l.Layer.Quantized));
    }

    static TrainingConfig.Value Set(string text) => new(text, null, null, "command line", 0);
}
