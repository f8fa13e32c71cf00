using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.Training;

namespace LoraBuild.Tests;

/// <summary>
/// Axolotl's early_stopping_patience, as transformers' EarlyStoppingCallback (trainer_callback.py, check_metric_value /
/// on_evaluate) decides: the eval loss improves when it is below the best so far by more than the threshold; the counter
/// of evaluations without improvement stops training when it reaches the patience.
/// </summary>
public class EarlyStoppingTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>
    /// The callback's rule worked by hand for each sequence: counter = 0 on the first evaluation or on a loss below the best
    /// by more than the threshold, else counter + 1; the best moves on any decrease (Trainer._determine_best_metric).
    /// </summary>
    [Theory]
    // Equal is no improvement: 3 | 2.5 (0) | 2.6 (1) | 2.4 (0) | 2.4 (1) | 2.45 (2) -> stops at the 6th.
    [InlineData(2, 0.0, new[] { 3.0, 2.5, 2.6, 2.4, 2.4, 2.45, 1.0 }, 6)]
    // A constant loss: 0, 1, 2, 3 -> stops at the 4th with patience 3.
    [InlineData(3, 0.0, new[] { 1.0, 1.0, 1.0, 1.0, 1.0 }, 4)]
    // Steady small gains below the threshold never reset the counter (the best still moves): 0, 1, 2 -> stops at the 3rd.
    [InlineData(2, 0.1, new[] { 3.0, 2.95, 2.9, 2.85 }, 3)]
    // The same gains with threshold 0 always reset it: never stops.
    [InlineData(2, 0.0, new[] { 3.0, 2.95, 2.9, 2.85 }, 0)]
    // A gain above the threshold resets: 3 | 2.95 (1) | 2.8 (0: 0.15 below 2.95) | 2.79 (1) | 2.78 (2) -> stops at the 5th.
    [InlineData(2, 0.1, new[] { 3.0, 2.95, 2.8, 2.79, 2.78 }, 5)]
    public void Stops_where_transformers_early_stopping_callback_stops(int patience, double threshold, double[] losses, int expectedStop)
    {
        var stopping = new EarlyStopping(patience, threshold);
        var stop = 0;
        for (var i = 0; i < losses.Length && stop == 0; i++)
            if (stopping.Observe(losses[i])) stop = i + 1;
        Assert.Equal(expectedStop, stop);
        // Replaying the same evaluations (a resumed run) gives the same state.
        var replayed = EarlyStopping.Replay(patience, losses.Take(stop == 0 ? losses.Length : stop).Select((l, i) => new EvalPoint(i + 1, l)), threshold);
        Assert.Equal((stopping.Counter, stopping.Best), (replayed.Counter, replayed.Best));
    }

    string Config(string extra, int maxSteps = 20, int evalSteps = 1)
    {
        var digits = Path.Combine(TestPaths.RepoRoot, "examples", "digits");
        var train = Path.Combine(dir, "train.jsonl");
        var eval = Path.Combine(dir, "eval.jsonl");
        File.WriteAllLines(train, File.ReadLines(Path.Combine(digits, "spell-train.jsonl")).Take(64));
        File.WriteAllLines(eval, File.ReadLines(Path.Combine(digits, "spell-eval.jsonl")).Take(8));
        var path = Path.Combine(dir, "run.yml");
        File.WriteAllText(path, $"""
            base_model: {Path.Combine(digits, "base")}
            dataset: {train}
            eval_dataset: {eval}
            output_dir: {Path.Combine(dir, "out")}
            r: 4
            lora_alpha: 8
            micro_batch_size: 8
            sequence_len: 32
            max_steps: {maxSteps}
            eval_steps: {evalSteps}
            eval_max_new_tokens: 8
            lr_scheduler: constant

            """ + extra);
        return path;
    }

    TrainingResult Train(string path, List<string> log, bool resume = false, CancellationToken cancellation = default) =>
        new Trainer(TrainingConfigLoader.Load(path), e => log.Add(e.Message)).Run(resume, cancellation);

    [Fact]
    public void A_run_whose_eval_loss_never_changes_stops_after_patience_evaluations()
    {
        // Learning rate 0: the adapter stays at its initialisation (B = 0), so every evaluation gives the same loss.
        var log = new List<string>();
        var result = Train(Config("learning_rate: 0\nearly_stopping_patience: 3\n"), log);
        // Evaluations at steps 1 (first: best), 2, 3, 4 (no improvement x3): stops at step 4 of 20.
        Assert.Equal((4L, (long?)4), (result.Steps, result.StoppedEarlyAtStep));
        Assert.Equal(4, result.Curve.Count);
        Assert.Contains(log, l => l.StartsWith("early stopping at step 4 of 20: eval loss has not gone below") && l.EndsWith("for 3 evaluations in a row (early_stopping_patience 3)"));
        Assert.Contains(log, l => l.StartsWith("done: 4 steps (stopped early at step 4)"));
        Assert.Contains(log, l => l.Contains("note: early_stopping_patience: the adapter written is the one at the step training stopped"));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(result.OutputDirectory, Trainer.MetricsFile)));
        Assert.Equal(4, metrics.RootElement.GetProperty("stopped_early_at_step").GetInt64());
        Assert.Equal(4, metrics.RootElement.GetProperty("steps").GetInt64());
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, Trainer.AdapterFolder, "adapter_model.safetensors")));
    }

    [Fact]
    public void A_learning_run_does_not_stop()
    {
        var log = new List<string>();
        var result = Train(Config("learning_rate: 0.01\nearly_stopping_patience: 1\n", maxSteps: 8, evalSteps: 2), log);
        Assert.Equal(8, result.Steps);
        Assert.Null(result.StoppedEarlyAtStep);
        Assert.DoesNotContain(log, l => l.StartsWith("early stopping"));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(result.OutputDirectory, Trainer.MetricsFile)));
        Assert.Equal(JsonValueKind.Null, metrics.RootElement.GetProperty("stopped_early_at_step").ValueKind);
        // Patience 1 would have stopped at the first evaluation that did not improve: every one improved.
        var evals = metrics.RootElement.GetProperty("eval_curve").EnumerateArray().Select(p => p.GetProperty("eval_loss").GetDouble()).ToList();
        Assert.True(evals.Count >= 4, string.Join(", ", evals));
        Assert.True(evals.Zip(evals.Skip(1)).All(p => p.Second < p.First), string.Join(", ", evals));
    }

    [Fact]
    public void A_resumed_run_keeps_the_patience_counter()
    {
        var path = Config("learning_rate: 0\nearly_stopping_patience: 3\nsave_steps: 2\n");
        // Interrupted after the checkpoint at step 2 (evaluations 1 and 2: counter 1).
        using var cancel = new CancellationTokenSource();
        var first = new List<string>();
        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(TrainingConfigLoader.Load(path), e =>
        {
            first.Add(e.Message);
            if (e.Message.StartsWith("checkpoint:")) cancel.Cancel();
        }).Run(resume: false, cancel.Token));
        var log = new List<string>();
        var result = Train(path, log, resume: true);
        Assert.Contains(log, l => l.Contains("at step 2/20"));
        // Counter kept: evaluations 3 and 4 make it 3, so it stops at 4 as the uninterrupted run does. Restarted from 0
        // it would stop at step 6 (evaluations 3 = best, 4, 5, 6).
        Assert.Equal((4L, (long?)4), (result.Steps, result.StoppedEarlyAtStep));
    }

    [Theory]
    [InlineData("early_stopping_patience: 2\n", "early_stopping_patience needs evaluation during training")]
    [InlineData("early_stopping_patience: 2\neval_dataset: e.jsonl\n", "early_stopping_patience needs evaluation during training")]
    public void Early_stopping_without_evaluation_during_training_is_refused(string yaml, string message)
    {
        var path = Path.Combine(dir, "c.yml");
        File.WriteAllText(path, "base_model: m\ndataset: d.jsonl\noutput_dir: o\n" + yaml);
        var config = TrainingConfigLoader.Load(path);
        var e = Assert.Throws<LoraBuildException>(() => config.Validate(path));
        Assert.Equal(ErrorCodes.ConfigValueInvalid, e.Code);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Early_stopping_joins_the_fingerprint_only_when_set()
    {
        var path = Path.Combine(dir, "c.yml");
        File.WriteAllText(path, "base_model: m\ndataset: d.jsonl\noutput_dir: o\neval_steps: 5\n");
        var without = TrainingConfigLoader.Load(path).DecidingSettings();
        Assert.DoesNotContain(without, s => s.Key == "early_stopping_patience");
        File.AppendAllText(path, "early_stopping_patience: 2\n");
        Assert.Contains(("early_stopping_patience", "2 (eval_steps 5, evals_per_epoch 0)"), TrainingConfigLoader.Load(path).DecidingSettings());
    }
}
