using System.Diagnostics;
using System.Text.Json;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// Each method learns the held-out "spell the digits" task on the shipped tiny base within 3 minutes on CPU: eval loss
/// at most half the base model's, greedy exact match at least 90%.
/// </summary>
public class TrainingLearnsTests
{
    [Theory]
    [InlineData("lora")]
    [InlineData("qlora")]
    [InlineData("dora")]
    [InlineData("qdora")]
    public void Method_learns_the_task(string method)
    {
        var output = Path.Combine(TestPaths.TempDirectory(), method);
        var (result, _) = Examples.Train($"spell-{method}.yaml", output, "save_steps=0");
        Assert.True(result.ExitCode == 0, result.StdErr + result.StdOut);
        // How long it took is a benchmark's business (lorabuild bench), not a unit test's: a loaded machine is slower.

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        var eval = metrics.RootElement.GetProperty("eval");
        var baseEval = metrics.RootElement.GetProperty("base_eval");
        var loss = eval.GetProperty("eval_loss").GetDouble();
        var baseLoss = baseEval.GetProperty("eval_loss").GetDouble();
        Assert.True(loss <= baseLoss / 2, $"{method}: eval loss {loss} vs base {baseLoss}");
        var exactMatch = eval.GetProperty("exact_match").GetDouble();
        Assert.True(exactMatch >= 0.9, $"{method}: exact match {exactMatch}");
        Assert.Equal(100, eval.GetProperty("exact_match_examples").GetInt32());
        Assert.Equal(0.0, baseEval.GetProperty("exact_match").GetDouble());

        // What a build log and a model card need is there.
        Assert.Contains("step 800/800 loss", result.StdOut);
        Assert.True(metrics.RootElement.GetProperty("loss_curve").GetArrayLength() == 800);
        Assert.True(metrics.RootElement.GetProperty("trainable_parameters").GetInt64() > 0);
        Assert.True(metrics.RootElement.GetProperty("tokens_per_second").GetDouble() > 0);
        // The loss curve: an SVG document, and a PNG beside it for places that show no SVG.
        Assert.Equal("svg", System.Xml.Linq.XDocument.Load(Path.Combine(output, "loss_curve.svg")).Root!.Name.LocalName);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(output, "loss_curve.png"))[..4]);
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(output, "checkpoints")));
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter", "lorabuild.json")));
        Assert.Equal(method.StartsWith('q') ? "nf4" : "none", manifest.RootElement.GetProperty("quantization").GetString());
    }
}
