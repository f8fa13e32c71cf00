using System.Diagnostics;
using LoraBuild.SafeTensors;
using LoraBuild.Tests;
using static TorchSharp.torch;

namespace LoraBuild.Cli.Tests;

/// <summary>Determinism, kill-and-resume, and reloading the saved adapter to the logits training ended with.</summary>
public class TrainingRunsSurviveTests
{
    // A short DoRA run with dropout, so the test also covers random state across a resume.
    static readonly string[] Short = ["max_steps=40", "save_steps=10", "logging_steps=1", "lora_dropout=0.1", "eval_dataset=", "save_total_limit=2"];

    public TrainingRunsSurviveTests() => TestPaths.EnsureTorch();

    static byte[] AdapterBytes(string output) => File.ReadAllBytes(Path.Combine(output, "adapter", "adapter_model.safetensors"));

    [Fact]
    public void Same_config_and_seed_give_a_bit_identical_adapter_and_a_killed_run_resumes_to_the_same_bits()
    {
        var root = TestPaths.TempDirectory();
        var (first, firstOut) = Examples.Train("spell-dora.yaml", Path.Combine(root, "a"), Short);
        Assert.True(first.ExitCode == 0, first.StdErr + first.StdOut);
        var (second, secondOut) = Examples.Train("spell-dora.yaml", Path.Combine(root, "b"), Short);
        Assert.True(second.ExitCode == 0, second.StdErr);
        Assert.Equal(AdapterBytes(firstOut), AdapterBytes(secondOut));

        // A third run is killed (the whole process, as a cancelled build would) once its step-20 checkpoint exists.
        var killedOut = Path.Combine(root, "c");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in TrainArgs(killedOut)) start.ArgumentList.Add(a);
        using (var process = Process.Start(start)!)
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var checkpoint = Path.Combine(killedOut, "checkpoints", "checkpoint-00000020");
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!Directory.Exists(checkpoint) && !process.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(10);
            Assert.True(Directory.Exists(checkpoint), "the run never wrote its step-20 checkpoint");
            Assert.False(process.HasExited, "the run finished before it could be killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        // Nothing of the interrupted run looks finished.
        Assert.False(File.Exists(Path.Combine(killedOut, "run.json")));
        Assert.False(Directory.Exists(Path.Combine(killedOut, "adapter")));

        var resumed = Worker.Run([.. TrainArgs(killedOut).Skip(1), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr + resumed.StdOut);
        Assert.Matches(@"resumed from .*checkpoint-000000[23]0 at step [23]0/40", resumed.StdOut);
        Assert.DoesNotContain("step 1/40 ", resumed.StdOut);
        Assert.Equal(AdapterBytes(firstOut), AdapterBytes(killedOut));
    }

    [Fact]
    public void Evaluation_points_recorded_before_a_resume_stay_on_the_curve()
    {
        var root = TestPaths.TempDirectory();
        var data = Path.Combine(root, "facts.jsonl");
        File.WriteAllLines(data, ["{\"prompt\":\"red:\",\"completion\":\" apple\"}", "{\"prompt\":\"blue:\",\"completion\":\" sky\"}"]);
        string[] Args(string output) => ["train", "--model", TestPaths.Hf("llama"), "--dataset", data, "--eval-dataset", data, "--out", output,
            "--rank", "4", "--alpha", "8", "--steps", "8", "--lr", "1e-2", "--seed", "3", "--set", "micro_batch_size=2",
            "--set", "save_steps=2", "--set", "eval_steps=2", "--set", "eval_max_new_tokens=2"];
        static string EvalCurve(string output) =>
            System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement.GetProperty("eval_curve").GetRawText();

        var whole = Worker.Run(Args(Path.Combine(root, "whole")));
        Assert.True(whole.ExitCode == 0, whole.StdErr + whole.StdOut);
        // The same run stopped at step 5 (after the step-4 eval and checkpoint), then resumed.
        var interrupted = Path.Combine(root, "interrupted");
        var stopped = Worker.RunWithEnvironment(new Dictionary<string, string?> { ["LORABUILD_FAULT_NAN_LOSS_AT_STEP"] = "5" }, Args(interrupted));
        Assert.Equal(1, stopped.ExitCode);
        var resumed = Worker.Run([.. Args(interrupted), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr + resumed.StdOut);
        Assert.Contains("resumed from", resumed.StdOut);
        var expected = EvalCurve(Path.Combine(root, "whole"));
        Assert.Contains("\"step\": 2", expected);
        Assert.Equal(expected, EvalCurve(interrupted));
    }

    static List<string> TrainArgs(string output)
    {
        var args = new List<string> { Path.Combine(AppContext.BaseDirectory, "lorabuild.dll"), "train", "--config", Examples.Digits("spell-dora.yaml"), "--out", output };
        foreach (var s in Short) args.AddRange(["--set", s]);
        return args;
    }

    [Theory]
    [InlineData("spell-lora.yaml")]
    [InlineData("spell-qdora.yaml")]
    public void Saved_adapter_reloads_to_the_logits_training_ended_with(string config)
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        var (run, _) = Examples.Train(config, output, "max_steps=30", "save_steps=0", "eval_dataset=");
        Assert.True(run.ExitCode == 0, run.StdErr + run.StdOut);
        var probe = Path.Combine(output, "probe_logits.safetensors");
        var reloaded = Path.Combine(output, "reloaded.safetensors");
        var logits = Worker.Run("logits", "--model", Examples.Digits("base"), "--adapter", Path.Combine(output, "adapter"), "--input-ids", probe, "--out", reloaded);
        Assert.True(logits.ExitCode == 0, logits.StdErr);
        using var scope = NewDisposeScope();
        using var expected = SafeTensorsFile.Open(probe);
        using var actual = SafeTensorsFile.Open(reloaded);
        var diff = (expected.Read("logits") - actual.Read("logits")).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"{config}: reloaded logits differ by {diff}");
        // And the base alone gives different logits: the adapter really changed the model.
        var baseOnly = Path.Combine(output, "base.safetensors");
        Assert.Equal(0, Worker.Run("logits", "--model", Examples.Digits("base"), "--input-ids", probe, "--out", baseOnly).ExitCode);
        using var baseLogits = SafeTensorsFile.Open(baseOnly);
        Assert.True((expected.Read("logits") - baseLogits.Read("logits")).abs().max().item<float>() > 0.1);
    }
}
