using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Training;

/// <summary>
/// transformers' load_best_model_at_end with metric_for_best_model eval_loss (greater_is_better false). Each evaluation
/// during training whose loss is below the best so far becomes the best (Trainer._determine_best_metric: best_metric,
/// best_global_step). The model loaded at the end is the best checkpoint, and transformers records one only when a
/// checkpoint is saved (Trainer._save_checkpoint): a save at step s keeps s's weights when s is the best evaluation's
/// step. A best evaluation between saves therefore never becomes the best model, which is why transformers requires
/// save steps to be a multiple of eval steps. The kept weights are a float32 copy of the trainable tensors (in memory;
/// checkpoints carry them so a resumed run keeps them).
/// </summary>
public sealed class BestModel : IDisposable
{
    List<Tensor>? weights;

    /// <summary>The lowest eval loss so far and the step it was measured at (state.best_metric, state.best_global_step).</summary>
    public double? BestLoss { get; private set; }
    public long? BestEvalStep { get; private set; }
    /// <summary>The step whose weights are kept (state.best_model_checkpoint's); null until a save lands on a best evaluation.</summary>
    public long? Step { get; private set; }
    public IReadOnlyList<Tensor>? Weights => weights;

    /// <summary>
    /// Records one evaluation during training; true when it is the best so far: strictly lower than the best, which starts
    /// at +inf (np.less, so a NaN loss is never the best).
    /// </summary>
    public bool Observe(long step, double evalLoss)
    {
        if (!(evalLoss < (BestLoss ?? double.PositiveInfinity))) return false;
        BestLoss = evalLoss;
        BestEvalStep = step;
        return true;
    }

    /// <summary>A save at <paramref name="step"/> (a checkpoint step, or the last step): keeps its weights when it is the best evaluation's.</summary>
    public void AtSave(long step, IReadOnlyList<Parameter> trainable)
    {
        if (BestEvalStep != step) return;
        Keep(step, trainable.Select(p => (Tensor)p));
    }

    /// <summary>Takes copies of <paramref name="tensors"/> as the kept weights of <paramref name="step"/> (a checkpoint's, on resume).</summary>
    public void Keep(long step, IEnumerable<Tensor> tensors)
    {
        using var _ = no_grad();
        Release();
        weights = tensors.Select(t => t.detach().clone().DetachFromDisposeScope()).ToList();
        Step = step;
    }

    /// <summary>Writes the kept weights into the trainable tensors (the end of training).</summary>
    public void Restore(IReadOnlyList<Parameter> trainable)
    {
        if (weights is null) throw new InvalidOperationException("No best model was kept.");
        using var _ = no_grad();
        for (var i = 0; i < trainable.Count; i++) trainable[i].copy_(weights[i]);
    }

    /// <summary>Observes the evaluations a checkpoint recorded (its eval curve), so a resumed run compares against the same best; the kept weights come from the checkpoint.</summary>
    public void Replay(IEnumerable<EvalPoint> evaluations)
    {
        foreach (var point in evaluations) Observe(point.Step, point.Loss);
    }

    void Release()
    {
        foreach (var t in weights ?? []) t.Dispose();
        weights = null;
    }

    public void Dispose() => Release();
}
