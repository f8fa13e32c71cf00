namespace LoraBuild.Training;

/// <summary>
/// Axolotl's <c>early_stopping_patience</c>, which adds transformers' <c>EarlyStoppingCallback</c>: after each evaluation
/// during training, the eval loss (metric_for_best_model "loss", greater_is_better false) counts as an improvement when
/// it is below the best so far by more than the threshold (0 by default), which resets the counter; otherwise the
/// counter grows, and training stops when it reaches the patience. As in transformers, the best value itself moves on
/// any decrease (Trainer._determine_best_metric), the threshold only decides whether the counter resets, and the first
/// evaluation is always an improvement.
/// </summary>
public sealed class EarlyStopping(int patience, double threshold = 0)
{
    public int Patience { get; } = patience;
    public double Threshold { get; } = threshold;
    /// <summary>Evaluations in a row without an improvement.</summary>
    public int Counter { get; private set; }
    public double? Best { get; private set; }

    /// <summary>Records one evaluation's loss; true when training should stop now.</summary>
    public bool Observe(double evalLoss)
    {
        if (Best is not { } best || (evalLoss < best && Math.Abs(evalLoss - best) > Threshold)) Counter = 0;
        else Counter++;
        if (Best is null || evalLoss < Best) Best = evalLoss;
        return Counter >= Patience;
    }

    /// <summary>
    /// The state after the evaluations a checkpoint recorded: a resumed run continues with the counter and best value an
    /// uninterrupted run would have (the eval curve is in every checkpoint, so nothing else needs saving).
    /// </summary>
    public static EarlyStopping Replay(int patience, IEnumerable<EvalPoint> evaluations, double threshold = 0)
    {
        var stopping = new EarlyStopping(patience, threshold);
        foreach (var point in evaluations) stopping.Observe(point.Loss);
        return stopping;
    }
}
