using System.Text.Json;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

public class InspectCommandTests
{
    /// <summary>Trainable counts must equal PEFT's own (hf-fixtures/summary.json).</summary>
    [Theory]
    [InlineData("llama", "lora")]
    [InlineData("llama", "dora")]
    [InlineData("phi3", "lora")]
    [InlineData("phi3", "dora")]
    [InlineData("qwen2", "dora")]
    [InlineData("qwen3", "lora")]
    [InlineData("gemma2", "dora")]
    [InlineData("gemma3", "lora")]
    public void Trainable_parameters_equal_peft(string family, string kind)
    {
        using var summary = JsonDocument.Parse(File.ReadAllText(TestPaths.Hf("summary.json")));
        var expected = summary.RootElement.GetProperty(family).GetProperty(kind).GetProperty("trainable").GetInt64();

        var result = Worker.Run("inspect", "--model", TestPaths.Hf(family), "--adapter", TestPaths.Hf(family, "adapter-" + kind), "--json");
        Assert.True(result.ExitCode == 0, result.StdErr);
        using var output = JsonDocument.Parse(result.StdOut);
        var adapter = output.RootElement.GetProperty("adapter");
        Assert.Equal(expected, adapter.GetProperty("trainable_parameters").GetInt64());
        var parameters = output.RootElement.GetProperty("parameters").GetInt64();
        Assert.Equal(100.0 * expected / parameters, adapter.GetProperty("share_of_base_percent").GetDouble(), 9);
        Assert.Equal(family.StartsWith("llama") ? "llama" : family == "gemma3" ? "gemma3_text" : family, output.RootElement.GetProperty("model_type").GetString());
    }

    [Fact]
    public void Table_names_method_rank_and_share()
    {
        var result = Worker.Run("inspect", "--model", TestPaths.Hf("llama"), "--adapter", TestPaths.Hf("llama", "adapter-dora"));
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Contains("Architecture llama: 2 layers, hidden 64", result.StdOut);
        Assert.Contains("DoRA, r=4, alpha=8, 14 layers", result.StdOut);
        Assert.Contains("Trainable    9,216 parameters", result.StdOut);
    }

    [Fact]
    public void Table_names_sliding_layers_local_rope_and_soft_caps()
    {
        var gemma3 = Worker.Run("inspect", "--model", TestPaths.Hf("gemma3-rope-linear"));
        Assert.True(gemma3.ExitCode == 0, gemma3.StdErr);
        Assert.Contains("Architecture gemma3_text: 4 layers", gemma3.StdOut);
        Assert.Contains("rope linear (theta 1000000)", gemma3.StdOut);
        Assert.Contains("3 of 4 layers slide (window 4), sliding layers rope default (theta 10000), q/k norms", gemma3.StdOut);

        var gemma2 = Worker.Run("inspect", "--model", TestPaths.Hf("gemma2"), "--json");
        Assert.True(gemma2.ExitCode == 0, gemma2.StdErr);
        using var output = JsonDocument.Parse(gemma2.StdOut);
        Assert.Equal(2, output.RootElement.GetProperty("sliding_layers").GetInt32());
        Assert.Equal(5.0, output.RootElement.GetProperty("attn_logit_softcapping").GetDouble());
        Assert.Equal(3.0, output.RootElement.GetProperty("final_logit_softcapping").GetDouble());
    }
}
