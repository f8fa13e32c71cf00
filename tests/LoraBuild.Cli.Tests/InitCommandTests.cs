using System.Text.Json;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>`lorabuild init` writes bf16 weights, sharded as save_pretrained shards them, that load back.</summary>
public class InitCommandTests
{
    [Fact]
    public void Bf16_sharded_model_is_written_with_an_index_and_loads()
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "gemma3-init");
        var init = Worker.Run("init", "--config", TestPaths.Hf("gemma3", "config.json"), "--tokenizer", TestPaths.Hf("gemma3"),
            "--out", output, "--dtype", "bfloat16", "--max-shard-size", "300KB");
        Assert.True(init.ExitCode == 0, init.StdErr + init.StdOut);

        var shards = Directory.GetFiles(output, "model-*-of-*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], shards);
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map");
        Assert.Equal("model-00001-of-00002.safetensors", weightMap.GetProperty("model.embed_tokens.weight").GetString());
        Assert.Equal(shards.ToHashSet(), weightMap.EnumerateObject().Select(p => p.Value.GetString()).ToHashSet());
        // 230,720 bf16 parameters; each shard stays within 300 KB unless one tensor alone is larger.
        Assert.Equal(230_720 * 2, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.All(shards, s => Assert.True(new FileInfo(Path.Combine(output, s!)).Length < 300_000 + 8_000, s));

        var inspect = Worker.Run("inspect", "--model", output, "--json");
        Assert.True(inspect.ExitCode == 0, inspect.StdErr);
        using var summary = JsonDocument.Parse(inspect.StdOut);
        Assert.Equal(230_720, summary.RootElement.GetProperty("parameters").GetInt64());
        Assert.Equal("gemma3_text", summary.RootElement.GetProperty("model_type").GetString());

        var generate = Worker.Run("generate", "--model", output, "--prompt", "hello", "--max-new-tokens", "4");
        Assert.True(generate.ExitCode == 0, generate.StdErr + generate.StdOut);
    }
}
