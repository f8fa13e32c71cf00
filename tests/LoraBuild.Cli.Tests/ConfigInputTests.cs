using System.Text.Json;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>The worker with foreign and wrong settings: an Axolotl config trains; bad --set values are located where the SDK wrote them.</summary>
public class ConfigInputTests
{
    [Fact]
    public void The_axolotl_example_config_trains_with_qlora_and_its_test_dataset()
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        var config = Path.Combine(TestPaths.RepoRoot, "examples", "axolotl", "speller-qlora.yml");
        var run = Worker.Run("train", "--config", config, "--out", output, "--set", "max_steps=2", "--set", "logging_steps=1", "--set", "eval_max_new_tokens=1", "--set", "adapter_name=speller");
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Contains("step 2/2 loss", run.StdOut);
        Assert.Contains("evaluating the adapter:", run.StdOut);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter", "lorabuild.json")));
        Assert.Equal("nf4", manifest.RootElement.GetProperty("quantization").GetString());
        using var adapterConfig = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter", "adapter_config.json")));
        Assert.Equal(8, adapterConfig.RootElement.GetProperty("r").GetInt32());
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        Assert.True(metrics.RootElement.GetProperty("eval").GetProperty("eval_loss").GetDouble() > 0);
        // The plots: SVG and PNG, titled by the adapter; the final eval loss is a point of the curve.
        Assert.Contains("speller", File.ReadAllText(Path.Combine(output, "loss_curve.svg")));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(output, "loss_curve.png"))[..4]);
        Assert.Equal(2, metrics.RootElement.GetProperty("eval_curve")[0].GetProperty("step").GetInt32());
        // A portable base-model id: the folder's name, not the path.
        Assert.Equal("base", adapterConfig.RootElement.GetProperty("base_model_name_or_path").GetString());
    }

    [Fact]
    public void Bad_settings_from_a_project_are_all_reported_at_the_project_line()
    {
        var run = Worker.Run("train", "--model", Examples.Digits("base"), "--dataset", Examples.Digits("spell-train.jsonl"), "--out", TestPaths.TempDirectory(),
            "--set", "lora_rr=4", "--set", "warmup_step=3", "--set", "lora_dropout=2", "--set-origin", "/src/Adapters.csproj(12)");
        Assert.Equal(1, run.ExitCode);
        var lines = run.StdErr.Trim().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal(
        [
            "/src/Adapters.csproj(12): error LB0120: Unknown key 'lora_rr'. Did you mean 'lora_r'?",
            "/src/Adapters.csproj(12): error LB0120: Unknown key 'warmup_step'. Did you mean 'warmup_steps'?",
            "/src/Adapters.csproj(12): error LB0121: 'lora_dropout' must be a number >= 0 and < 1; got '2'.",
        ], lines);
    }
}
