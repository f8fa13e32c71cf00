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

    readonly string root;
    readonly int keep;

    public CheckpointStore(string root, int keep)
    {
        this.root = root;
        this.keep = keep;
    }

    /// <summary>trainer_state.json: the step, the run's fingerprint, and both curves so far (a resumed run's plots and
    /// metrics.json keep the points recorded before the interruption). EvalCurve is absent in older checkpoints.</summary>
    sealed record State(long Step, string Fingerprint, List<LossPoint> Curve, List<EvalPoint>? EvalCurve = null);

    public string Save(long step, string fingerprint, IReadOnlyList<Parameter> trainable, AdamW optimizer, IReadOnlyList<LossPoint> curve,
        IReadOnlyList<EvalPoint> evalCurve)
    {
        var path = Path.Combine(root, Prefix + step.ToString("D8", CultureInfo.InvariantCulture));
        try
        {
            AtomicFile.WriteDirectory(path, temp =>
            {
                SafeTensorsWriter.Write(Path.Combine(temp, TrainableFile), trainable.Select((p, i) => KeyValuePair.Create($"param.{i}", (Tensor)p)));
                InjectedFault.DiskFullAtCheckpoint(step);
                SafeTensorsWriter.Write(Path.Combine(temp, OptimizerFile), optimizer.State());
                File.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(new State(step, fingerprint, curve.ToList(), evalCurve.ToList())));
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

    /// <summary>Loads a checkpoint into the trainable tensors and the optimizer; returns the step it was taken at.</summary>
    public long Restore(string path, IReadOnlyList<Parameter> trainable, AdamW optimizer, List<LossPoint> curve, List<EvalPoint> evalCurve)
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
        using (var optimizerState = SafeTensorsFile.Open(Path.Combine(path, OptimizerFile)))
            optimizer.LoadState(name => optimizerState.Read(name), state.Step);
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
