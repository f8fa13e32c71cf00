using System.Globalization;
using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.IO;
using LoraBuild.SafeTensors;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Training;

/// <summary>
/// Training checkpoints: <c>checkpoint-NNNNNNNN/</c> folders, each with the trainable tensors, the optimizer state and
/// <c>trainer_state.json</c> (step, fingerprint, loss curve). Each folder appears atomically; the oldest beyond the
/// limit are removed after a new one is complete.
/// </summary>
public sealed class CheckpointStore
{
    const string Prefix = "checkpoint-";
    const string TrainableFile = "trainable.safetensors";
    const string OptimizerFile = "optimizer.safetensors";
    const string StateFile = "trainer_state.json";
    const string BestFile = "best_model.safetensors";

    readonly string root;
    readonly int keep;

    public CheckpointStore(string root, int keep)
    {
        this.root = root;
        this.keep = keep;
    }

    /// <summary>trainer_state.json: the step, the run's fingerprint, and both curves so far (a resumed run's plots and
    /// metrics.json keep the points recorded before the interruption). EvalCurve is absent in older checkpoints; LossScale
    /// (fp16's GradScaler state) and BestStep (load_best_model_at_end's kept step) only where the run has them.</summary>
    sealed record State(long Step, string Fingerprint, List<LossPoint> Curve, List<EvalPoint>? EvalCurve = null, LossScaler.State? LossScale = null,
        long? BestStep = null);

    /// <param name="scaler">fp16's loss scale, saved so a resumed run continues with it (GradScaler's state_dict).</param>
    /// <param name="best">load_best_model_at_end's kept weights: best_model.safetensors when they are an earlier step's.</param>
    public string Save(long step, string fingerprint, IReadOnlyList<Parameter> trainable, AdamW optimizer, IReadOnlyList<LossPoint> curve,
        IReadOnlyList<EvalPoint> evalCurve, LossScaler? scaler = null, BestModel? best = null)
    {
        var path = Path.Combine(root, Prefix + step.ToString("D8", CultureInfo.InvariantCulture));
        try
        {
            AtomicFile.WriteDirectory(path, temp =>
            {
                SafeTensorsWriter.Write(Path.Combine(temp, TrainableFile), trainable.Select((p, i) => KeyValuePair.Create($"param.{i}", (Tensor)p)));
                InjectedFault.DiskFullAtCheckpoint(step);
                SafeTensorsWriter.Write(Path.Combine(temp, OptimizerFile), optimizer.State());
                if (best is { Step: { } bestStep, Weights: { } weights } && bestStep != step)
                    SafeTensorsWriter.Write(Path.Combine(temp, BestFile), weights.Select((t, i) => KeyValuePair.Create($"param.{i}", t)));
                File.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(
                    new State(step, fingerprint, curve.ToList(), evalCurve.ToList(), scaler?.Save(), best?.Step)));
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The half-written folder is gone (AtomicFile); older complete checkpoints are untouched.
            var last = All().FirstOrDefault();
            throw new LoraBuildException(InjectedFault.IsDiskFull(e) ? ErrorCodes.DiskFull : ErrorCodes.OutputWriteFailed,
                $"Writing the checkpoint at step {step} failed: {e.Message}. " +
                (last is null ? "No earlier checkpoint exists; the next build starts over." : $"The last good checkpoint is kept at {last}; the next build resumes from it."),
                root);
        }
        foreach (var old in All().Skip(keep)) Directory.Delete(old, recursive: true);
        return path;
    }

    /// <summary>Complete checkpoints, newest first (temporary folders of interrupted writes are not listed).</summary>
    IEnumerable<string> All() =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root, Prefix + "*").Where(d => File.Exists(Path.Combine(d, StateFile))).OrderByDescending(d => d, StringComparer.Ordinal)
            : [];

    public string? Newest(string fingerprint) =>
        All().FirstOrDefault(d =>
        {
            try
            {
                return JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(d, StateFile)))?.Fingerprint == fingerprint;
            }
            catch (JsonException)
            {
                return false;
            }
        });

    /// <summary>
    /// Loads a checkpoint into the trainable tensors and the optimizer (and, where given, the loss scale and the best model's
    /// kept weights); returns the step it was taken at.
    /// </summary>
    public long Restore(string path, IReadOnlyList<Parameter> trainable, AdamW optimizer, List<LossPoint> curve, List<EvalPoint> evalCurve,
        LossScaler? scaler = null, BestModel? best = null)
    {
        var state = JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(path, StateFile)))
            ?? throw new LoraBuildException(ErrorCodes.CheckpointInvalid, "Checkpoint state is empty.", path);
        using (var tensors = SafeTensorsFile.Open(Path.Combine(path, TrainableFile)))
        using (no_grad())
        {
            if (tensors.Tensors.Count != trainable.Count)
                throw new LoraBuildException(ErrorCodes.CheckpointInvalid, $"Checkpoint holds {tensors.Tensors.Count} tensors; this run trains {trainable.Count}.", path);
            for (var i = 0; i < trainable.Count; i++)
            {
                using var value = tensors.Read($"param.{i}");
                trainable[i].copy_(value);
            }
        }
        if (scaler is not null)
            scaler.Load(state.LossScale ?? throw new LoraBuildException(ErrorCodes.CheckpointInvalid, "Checkpoint has no loss scale; this run trains in fp16.", path));
        // AdamW's step count leaves out the steps fp16 skipped (torch's optimizer.step never ran for them).
        using (var optimizerState = SafeTensorsFile.Open(Path.Combine(path, OptimizerFile)))
            optimizer.LoadState(name => optimizerState.Read(name), state.Step - (state.LossScale?.SkippedSteps ?? 0));
        if (best is not null && state.BestStep is { } bestStep)
        {
            if (bestStep == state.Step) best.Keep(bestStep, trainable);
            else
            {
                using var tensors = SafeTensorsFile.Open(Path.Combine(path, BestFile));
                var read = Enumerable.Range(0, trainable.Count).Select(i => tensors.Read($"param.{i}")).ToList();
                best.Keep(bestStep, read);
                foreach (var t in read) t.Dispose();
            }
        }
        curve.Clear();
        curve.AddRange(state.Curve);
        evalCurve.Clear();
        evalCurve.AddRange(state.EvalCurve ?? []);
        return state.Step;
    }

    public void DeleteAll()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }
}
