using System.Text.Json;
using System.Text.Json.Nodes;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// Each newer family (Qwen3, Gemma 2 with its soft-capping, Gemma 3 with local/global rope) learns to recall a few facts
/// with LoRA and with QLoRA through `lorabuild train`: on the fixture models (random weights) the greedy completions of
/// all facts must come out exactly, and the loss must fall to a fraction of the base model's. The Gemma 2 fixture caps
/// final logits at 3.0, where its std-0.15 weights already saturate the tanh (|logit| 2.99) and gradients vanish;
/// the test gives it Gemma 2's real caps (final 30, attention 50) over the same weights.
/// </summary>
public class FamilyMemorisationTests
{
    static readonly (string Prompt, string Completion)[] Facts =
    [
        ("red:", " apple"), ("blue:", " sky"), ("green:", " grass"), ("white:", " snow"),
        ("black:", " night"), ("yellow:", " sun"), ("grey:", " stone"), ("pink:", " rose"),
    ];

    static string ModelFolder(string family, string work)
    {
        if (family != "gemma2") return TestPaths.Hf(family);
        var folder = Path.Combine(work, "gemma2");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(TestPaths.Hf(family))) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        config["final_logit_softcapping"] = 30.0;
        config["attn_logit_softcapping"] = 50.0;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        return folder;
    }

    [Theory]
    [InlineData("qwen3", "lora")]
    [InlineData("qwen3", "qlora")]
    [InlineData("gemma2", "lora")]
    [InlineData("gemma2", "qlora")]
    [InlineData("gemma3", "lora")]
    [InlineData("gemma3", "qlora")]
    public void Family_memorises_facts(string family, string method)
    {
        var work = TestPaths.TempDirectory();
        try
        {
            var data = Path.Combine(work, "facts.jsonl");
            File.WriteAllLines(data, Facts.Select(f => JsonSerializer.Serialize(new { prompt = f.Prompt, completion = f.Completion })));
            var output = Path.Combine(work, "run");
            var args = new List<string>
            {
                "train", "--model", ModelFolder(family, work), "--dataset", data, "--eval-dataset", data, "--out", output,
                "--rank", "8", "--alpha", "16", "--steps", "120", "--lr", "1e-2", "--seed", "1",
                "--set", "micro_batch_size=8", "--set", "warmup_steps=5", "--set", "save_steps=0", "--set", "logging_steps=40",
                "--set", "eval_max_new_tokens=4",
            };
            if (method == "qlora") args.AddRange(["--quantization", "nf4"]);
            var result = Worker.Run([.. args]);
            Assert.True(result.ExitCode == 0, result.StdErr + result.StdOut);

            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            var eval = metrics.RootElement.GetProperty("eval");
            var baseEval = metrics.RootElement.GetProperty("base_eval");
            var loss = eval.GetProperty("eval_loss").GetDouble();
            var baseLoss = baseEval.GetProperty("eval_loss").GetDouble();
            Assert.True(loss <= baseLoss / 10, $"{family} {method}: eval loss {loss} vs base {baseLoss}");
            Assert.Equal(1.0, eval.GetProperty("exact_match").GetDouble());
            Assert.Equal(0.0, baseEval.GetProperty("exact_match").GetDouble());
            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter", "lorabuild.json")));
            Assert.Equal(method == "qlora" ? "nf4" : "none", manifest.RootElement.GetProperty("quantization").GetString());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
