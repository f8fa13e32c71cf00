using System.Text.Json;

namespace LoraBuild.Cli.Tests;

/// <summary><c>lorabuild bench</c> on CPU with the tiny shape: one child process per case, JSON results with content.</summary>
public class BenchCommandTests
{
    [Fact]
    public void Bench_writes_one_result_per_case_with_the_floor_and_both_loss_paths()
    {
        var output = Path.Combine(Path.GetTempPath(), $"lorabuild-bench-test-{Guid.NewGuid():N}.json");
        try
        {
            var run = Worker.Run("bench", "--device", "cpu", "--shapes", "llama-tiny", "--methods", "lora,dora", "--targets", "all",
                "--batch", "2", "--seq", "32", "--warmup", "1", "--steps", "2", "--loss", "both", "--floor", "--out", output);
            Assert.True(run.ExitCode == 0, run.StdErr + run.StdOut);
            using var document = JsonDocument.Parse(File.ReadAllText(output));
            var results = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
            Assert.Equal(["llama-tiny/dora/all", "llama-tiny/dora/all/plain-loss", "llama-tiny/lora/all", "llama-tiny/lora/all/plain-loss"], results.Keys.Order());

            // llama-tiny: 4 layers, hidden 128, 2 of 4 heads for k/v (64), intermediate 256; r = 16 on all seven projections.
            const long loraPerLayer = 16 * ((128 + 128) * 2 + (128 + 64) * 2 + (128 + 256) * 3);
            Assert.Equal(4 * loraPerLayer, results["llama-tiny/lora/all"].GetProperty("Trainable").GetInt64());
            // DoRA adds one magnitude per output feature.
            Assert.Equal(4 * (loraPerLayer + 128 * 2 + 64 * 2 + 256 * 2 + 128), results["llama-tiny/dora/all"].GetProperty("Trainable").GetInt64());

            foreach (var (key, result) in results)
            {
                Assert.Equal("cpu", result.GetProperty("Device").GetString());
                Assert.Equal(!key.EndsWith("/plain-loss"), result.GetProperty("FusedLoss").GetBoolean());
                // Random init over a 512-token vocabulary: the loss starts near ln(512) = 6.24.
                Assert.InRange(result.GetProperty("Loss").GetDouble(), 5.5, 7.0);
                Assert.True(result.GetProperty("TokensPerSecond").GetDouble() > 0);
                Assert.True(result.GetProperty("PeakGiB").GetDouble() > 0, key + ": host peak memory");
                Assert.True(result.GetProperty("FloorGemmMilliseconds").GetDouble() > 0);
                Assert.True(result.GetProperty("FloorAttentionMilliseconds").GetDouble() > 0);
                Assert.Equal(result.GetProperty("StepMilliseconds").GetDouble() /
                             (result.GetProperty("FloorGemmMilliseconds").GetDouble() + result.GetProperty("FloorAttentionMilliseconds").GetDouble()),
                             result.GetProperty("StepOverFloor").GetDouble(), 6);
            }
            // The fused and plain loss paths train the same model the same way.
            foreach (var method in new[] { "lora", "dora" })
                Assert.Equal(results[$"llama-tiny/{method}/all"].GetProperty("Loss").GetDouble(),
                             results[$"llama-tiny/{method}/all/plain-loss"].GetProperty("Loss").GetDouble(), 4);
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void Bench_with_no_phase_steps_runs_only_the_timed_steps_as_a_long_context_probe_does()
    {
        var output = Path.Combine(Path.GetTempPath(), $"lorabuild-bench-test-{Guid.NewGuid():N}.json");
        try
        {
            var run = Worker.Run("bench", "--device", "cpu", "--shapes", "llama-tiny", "--methods", "qlora", "--targets", "all",
                "--gradient-checkpointing", "on", "--batch", "1", "--seq", "48", "--warmup", "0", "--steps", "1", "--phase-steps", "0", "--out", output);
            Assert.True(run.ExitCode == 0, run.StdErr + run.StdOut);
            using var document = JsonDocument.Parse(File.ReadAllText(output));
            var result = Assert.Single(document.RootElement.EnumerateObject());
            Assert.Equal("llama-tiny/qlora/all/gc", result.Name);
            Assert.InRange(result.Value.GetProperty("Loss").GetDouble(), 5.5, 7.0);
            Assert.Equal(48 / (result.Value.GetProperty("StepMilliseconds").GetDouble() / 1000), result.Value.GetProperty("TokensPerSecond").GetDouble(), 6);
            // No phase-by-phase steps were run, so no phase times.
            foreach (var phase in new[] { "ForwardMilliseconds", "BackwardMilliseconds", "OptimizerMilliseconds" })
                Assert.Equal(0, result.Value.GetProperty(phase).GetDouble());
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void Bench_refuses_an_unknown_shape_with_the_known_ones()
    {
        var run = Worker.Run("bench", "--device", "cpu", "--shapes", "llama-huge", "--methods", "lora", "--targets", "qv", "--steps", "1");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("llama-huge", run.StdErr);
        Assert.Contains("llama-tiny", run.StdErr);
    }
}
