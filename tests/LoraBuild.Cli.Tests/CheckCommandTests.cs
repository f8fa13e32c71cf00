using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary><c>lorabuild check</c> as a user runs it: every problem at once with file, line and column; exit 0 when a run would start.</summary>
public class CheckCommandTests
{
    [Fact]
    public void Every_problem_at_once_with_its_location()
    {
        var dir = TestPaths.TempDirectory();
        try
        {
            File.WriteAllText(Path.Combine(dir, "rows.jsonl"), "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\"}\n{oops\n");
            var config = Path.Combine(dir, "c.yml");
            File.WriteAllText(config, $"base_model: {TestPaths.Hf("llama")}\noutput_dir: out\nlearnin_rate: 0.1\ngroup_by_length: true\n" +
                                      "datasets:\n  - path: rows.jsonl\n    type: alpaca\n  - path: missing.parquet\n    type: completion\n");
            var run = Worker.Run("check", "--config", config);
            Assert.Equal(1, run.ExitCode);
            var errors = run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(errors, e => e.StartsWith($"{config}(3,1): error LB0120: Unknown key 'learnin_rate'. Did you mean 'learning_rate'?"));
            Assert.Contains(errors, e => e.StartsWith($"{config}(4,1): error LB0500: 'group_by_length' is not supported"));
            Assert.Contains(errors, e => e.StartsWith($"{Path.Combine(dir, "rows.jsonl")}(2): error LB0503: no \"output\" column"));
            Assert.Contains(errors, e => e.StartsWith($"{Path.Combine(dir, "rows.jsonl")}(3): error LB0101: not valid JSON"));
            Assert.Contains(errors, e => e.StartsWith($"{config}(8): error LB0100: Dataset file not found"));
            Assert.Equal(5, errors.Length);
            Assert.Contains("check: 5 problem(s)", run.StdOut);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_axolotl_example_passes_and_says_what_it_would_fetch()
    {
        var run = Worker.Run("check", "--config", Path.Combine(TestPaths.Fixtures, "axolotl-examples", "llama-3--qlora-1b.yml"));
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Contains("  r: 32", run.StdOut);
        Assert.Contains("  quantization: nf4", run.StdOut);
        Assert.Contains("would fetch: model NousResearch/Llama-3.2-1B", run.StdOut);
        Assert.Contains("would fetch: dataset teknium/GPT4-LLM-Cleaned split train", run.StdOut);
        Assert.Contains("(54,1): note: attn_implementation: accepted, changes nothing here", run.StdOut);
        Assert.DoesNotContain("note: tf32", run.StdOut); // tf32: false is unset
        Assert.Contains("check: ok, a run would start", run.StdOut);
    }
}
