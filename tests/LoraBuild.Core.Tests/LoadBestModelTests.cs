using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.SafeTensors;
using LoraBuild.Training;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// transformers' load_best_model_at_end (metric eval_loss): the adapter written is the checkpoint saved at the best
/// evaluation; Axolotl turns it on with early_stopping_patience; it survives --resume.
/// </summary>
[Collection(SerialTrainingCollection.Name)]
public class LoadBestModelTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public LoadBestModelTests() => TestPaths.EnsureTorch();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Config(string extra, int maxSteps = 16)
    {
        var digits = Path.Combine(TestPaths.RepoRoot, "examples", "digits");
        var train = Path.Combine(dir, "train.jsonl");
        var eval = Path.Combine(dir, "eval.jsonl");
        if (!File.Exists(train)) File.WriteAllLines(train, File.ReadLines(Path.Combine(digits, "spell-train.jsonl")).Take(64));
        if (!File.Exists(eval)) File.WriteAllLines(eval, File.ReadLines(Path.Combine(digits, "spell-eval.jsonl")).Take(8));
        var path = Path.Combine(dir, $"run{Directory.GetFiles(dir, "*.yml").Length}.yml");
        File.WriteAllText(path, $"""
            base_model: {Path.Combine(digits, "base")}
            dataset: {train}
            eval_dataset: {eval}
            output_dir: {Path.Combine(dir, Path.GetFileNameWithoutExtension(path))}
            r: 4
            lora_alpha: 8
            micro_batch_size: 8
            sequence_len: 32
            max_steps: {maxSteps}
            eval_max_new_tokens: 4
            lr_scheduler: constant
            device: cpu

            """ + extra);
        return path;
    }

    static TrainingResult Train(string path, List<string>? log = null, bool resume = false) =>
        new Trainer(TrainingConfigLoader.Load(path), e => log?.Add(e.Message)).Run(resume);

    static Dictionary<string, float[]> Adapter(TrainingResult result) => TrainedAdapterFiles.Values(result);

    static void AssertSameAdapter(TrainingResult expected, TrainingResult actual)
    {
        var (a, b) = (Adapter(expected), Adapter(actual));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, values) in a) Assert.True(values.SequenceEqual(b[name]), $"{name} differs");
    }

    static (JsonElement Root, List<(long Step, double Loss)> Evals) Metrics(TrainingResult result)
    {
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(result.OutputDirectory, Trainer.MetricsFile))).RootElement;
        return (root, root.GetProperty("eval_curve").EnumerateArray().Select(p => (p.GetProperty("step").GetInt64(), p.GetProperty("eval_loss").GetDouble())).ToList());
    }

    /// <summary>
    /// transformers' rule (Trainer._determine_best_metric and _save_checkpoint) worked by hand: the best evaluation moves on
    /// any lower loss, and a save keeps its step's weights only when that step is the best evaluation's. Evaluations every
    /// step, saves every 2: 1: 3.0 | 2: 2.9 (saved, best) | 3: 2.0 (best, not saved) | 4: 2.5 (saved, not best) -> step 2's
    /// weights, though steps 3 and 4 evaluated lower; 5: 1.0 | 6: 1.5 (saved) -> still step 2's; 7: 0.9 | 8: 0.9 (equal is
    /// not better) -> still 2; 9: 0.5 | 10: 0.4 (saved, best) -> step 10's.
    /// </summary>
    [Fact]
    public void Best_model_follows_transformers_best_checkpoint_rule()
    {
        using var best = new BestModel();
        var weight = new TorchSharp.Modules.Parameter(zeros(2));
        double[] losses = [3.0, 2.9, 2.0, 2.5, 1.0, 1.5, 0.9, 0.9, 0.5, 0.4];
        long?[] kept = [null, 2, 2, 2, 2, 2, 2, 2, 2, 10];
        for (var step = 1; step <= losses.Length; step++)
        {
            using (no_grad()) weight.fill_(step);
            best.Observe(step, losses[step - 1]);
            if (step % 2 == 0) best.AtSave(step, [weight]);
            Assert.Equal(kept[step - 1], best.Step);
        }
        Assert.Equal((10L, 0.4), (best.BestEvalStep!.Value, best.BestLoss!.Value));
        Assert.Equal(new[] { 10f, 10f }, best.Weights![0].data<float>().ToArray());
        // A resumed run replays the evaluations: the same best, with equal losses not counted as better.
        using var replayed = new BestModel();
        replayed.Replay(losses.Select((l, i) => new EvalPoint(i + 1, l)).Take(8));
        Assert.Equal((7L, 0.9), (replayed.BestEvalStep!.Value, replayed.BestLoss!.Value));
        // A NaN loss is never the best, not even the first (transformers starts best_metric at +inf and compares with np.less).
        using var nan = new BestModel();
        Assert.False(nan.Observe(1, double.NaN));
        Assert.Null(nan.BestEvalStep);
        Assert.True(nan.Observe(2, 5.0));
        Assert.False(nan.Observe(3, double.NaN));
        Assert.Equal(2L, nan.BestEvalStep);
    }

    const string Learning = "learning_rate: 0.05\neval_steps: 2\nsave_steps: 2\n";

    /// <summary>
    /// A run whose eval loss rises after its best evaluation writes the best step's adapter: bit for bit the adapter of the
    /// same run stopped at that step (constant learning rate, so the steps before it are the same), and the resumed run
    /// (interrupted after a later checkpoint, which carries the best weights) writes it too.
    /// </summary>
    [Fact]
    public void The_adapter_written_is_the_best_evaluations_and_survives_resume()
    {
        var log = new List<string>();
        var whole = Train(Config(Learning + "load_best_model_at_end: true\nmetric_for_best_model: eval_loss\ngreater_is_better: false\n"), log);
        var (metrics, evals) = Metrics(whole);
        // Evaluations at 2, 4, ..., 16 (the last step included: it is an eval step); the best is an earlier one, and a later one is worse.
        Assert.Equal(Enumerable.Range(1, 8).Select(i => 2L * i), evals.Select(e => e.Step));
        var bestStep = evals.MinBy(e => e.Loss).Step;
        Assert.True(bestStep < 16 && evals.Any(e => e.Step > bestStep && e.Loss > evals.Min(x => x.Loss)), string.Join(", ", evals));
        Assert.Equal(bestStep, whole.BestStep);
        Assert.Equal(bestStep, metrics.GetProperty("best_step").GetInt64());
        Assert.Equal(evals.Min(e => e.Loss), metrics.GetProperty("best_eval_loss").GetDouble());
        Assert.Equal(16, metrics.GetProperty("steps").GetInt64());
        Assert.Contains(log, l => l.StartsWith($"load_best_model_at_end: the adapter written is step {bestStep}'s"));
        Assert.Contains(log, l => l.StartsWith($"done: 16 steps (adapter of step {bestStep}, the best evaluation)"));
        // The final evaluation scores the adapter written (the best one): its loss is the best evaluation's.
        Assert.Equal(evals.Min(e => e.Loss), whole.Eval!.EvalLoss, 5);

        var stopped = Train(Config($"learning_rate: 0.05\n", maxSteps: (int)bestStep));
        AssertSameAdapter(stopped, whole);

        // Interrupted after the first checkpoint past the best step: that checkpoint carries the best weights.
        var path = Config(Learning + "load_best_model_at_end: true\n");
        using var cancel = new CancellationTokenSource();
        string? interruptedAt = null;
        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(TrainingConfigLoader.Load(path), e =>
        {
            if (e.Message.StartsWith("checkpoint:") && long.Parse(e.Message[^8..]) > bestStep)
            {
                interruptedAt = e.Message["checkpoint: ".Length..];
                cancel.Cancel();
            }
        }).Run(resume: false, cancel.Token));
        Assert.True(File.Exists(Path.Combine(interruptedAt!, "best_model.safetensors")));
        var resumedLog = new List<string>();
        var resumed = Train(path, resumedLog, resume: true);
        Assert.Contains(resumedLog, l => l.StartsWith("resumed from"));
        Assert.Equal(bestStep, resumed.BestStep);
        AssertSameAdapter(whole, resumed);
    }

    /// <summary>Axolotl turns load_best_model_at_end on with early_stopping_patience when save_steps is a multiple of eval_steps.</summary>
    [Fact]
    public void Early_stopping_with_checkpoints_on_evaluations_writes_the_best_adapter()
    {
        var log = new List<string>();
        var result = Train(Config(Learning + "early_stopping_patience: 2\n"), log);
        var (metrics, evals) = Metrics(result);
        Assert.NotNull(result.StoppedEarlyAtStep);
        var bestStep = evals.MinBy(e => e.Loss).Step;
        Assert.True(bestStep < result.StoppedEarlyAtStep, string.Join(", ", evals));
        Assert.Equal(bestStep, metrics.GetProperty("best_step").GetInt64());
        Assert.Contains(log, l => l.StartsWith("load_best_model_at_end (set by early_stopping_patience, as Axolotl does)"));
        AssertSameAdapter(Train(Config("learning_rate: 0.05\n", maxSteps: (int)bestStep)), result);
    }

    [Theory]
    [InlineData("eval_steps: 2\nsave_steps: 3\n", "save steps (3) must be a positive multiple of the evaluation steps (2)")]
    [InlineData("eval_steps: 2\nsave_steps: 0\n", "save steps (0) must be a positive multiple of the evaluation steps (2)")]
    [InlineData("save_steps: 2\n", "load_best_model_at_end needs evaluation during training")]
    public void Load_best_model_without_saves_on_evaluations_is_refused(string yaml, string message)
    {
        var path = Path.Combine(dir, "c.yml");
        File.WriteAllText(path, "base_model: m\ndataset: d.jsonl\neval_dataset: e.jsonl\noutput_dir: o\nload_best_model_at_end: true\n" + yaml);
        var e = Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(path).Validate(path));
        Assert.Equal(ErrorCodes.ConfigValueInvalid, e.Code);
        Assert.Contains(message, e.Message);
    }

    /// <summary>Per-epoch cadences are known only once the steps are: checked then, before the first step.</summary>
    [Fact]
    public void Per_epoch_saves_off_the_evaluations_are_refused_before_training()
    {
        // 16 steps: evals_per_epoch 2 = every 8 steps, saves_per_epoch 3 = every 6.
        var log = new List<string>();
        var e = Assert.Throws<LoraBuildException>(() => Train(Config("evals_per_epoch: 2\nsaves_per_epoch: 3\nload_best_model_at_end: true\n"), log));
        Assert.Equal(ErrorCodes.ConfigValueInvalid, e.Code);
        Assert.Contains("save steps (6) must be a positive multiple of the evaluation steps (8)", e.Message);
        Assert.DoesNotContain(log, l => l.StartsWith("step "));
    }

    [Fact]
    public void Load_best_model_joins_the_fingerprint_only_when_it_applies()
    {
        var path = Path.Combine(dir, "c.yml");
        File.WriteAllText(path, "base_model: m\ndataset: d.jsonl\noutput_dir: o\neval_steps: 5\nsave_steps: 10\n");
        Assert.DoesNotContain(TrainingConfigLoader.Load(path).DecidingSettings(), s => s.Key == "load_best_model_at_end");
        File.WriteAllText(path, "base_model: m\ndataset: d.jsonl\noutput_dir: o\neval_steps: 5\nearly_stopping_patience: 2\n");
        Assert.DoesNotContain(TrainingConfigLoader.Load(path).DecidingSettings(), s => s.Key == "load_best_model_at_end");
        File.AppendAllText(path, "save_steps: 10\n");
        Assert.Contains(("load_best_model_at_end", "true (save_steps 10, saves_per_epoch 0, eval_steps 5, evals_per_epoch 0)"), TrainingConfigLoader.Load(path).DecidingSettings());
    }
}
