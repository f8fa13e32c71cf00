using System.Text.Json;

namespace LoraBuild.Sdk.Tests;

/// <summary>Real builds with the real worker (from the packed SDK) on the tiny digits base: training, resume, packing.</summary>
public class EndToEndTests
{
    [Fact]
    public void Build_trains_a_real_adapter_and_a_rebuild_is_a_no_op()
    {
        var project = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" EvalDataset="data/spell-eval.jsonl"
                             Rank="4" Alpha="8" Quantization="nf4" MaxSteps="40" BatchSize="16" SequenceLength="32" LearningRate="0.002"
                             TrainingSettings="save_steps=10;logging_steps=10;eval_max_new_tokens=8" />
                <LoraEvalGate Include="speller" Metric="eval_loss" MinImprovementOverBase="0.5" />
              </ItemGroup>
            """, fakeWorker: false);
        var build = project.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("speller: step 40/40 loss", build.Output);
        Assert.Contains("gate speller eval_loss", build.Output);
        var output = Path.Combine(project.Directory, "bin", "lora", "speller");
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter_config.json"))))
            Assert.Equal(4, config.RootElement.GetProperty("r").GetInt32());
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "lorabuild.json"))))
            Assert.Equal("nf4", manifest.RootElement.GetProperty("quantization").GetString());

        var again = project.Run("build");
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", again.Output);
        Assert.DoesNotContain("lorabuild train", again.Output);
    }
}
