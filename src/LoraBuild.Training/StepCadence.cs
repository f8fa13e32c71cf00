using System.Globalization;

namespace LoraBuild.Training;

/// <summary>
/// Warm-up, checkpoint and evaluation steps once the total is known: Axolotl's warmup_ratio (int(ratio x total), core/builders/base.py),
/// saves_per_epoch and evals_per_epoch (a fraction 1 / (n x num_epochs) of the total, which transformers rounds up: utils/config).
/// </summary>
public sealed record StepCadence(long WarmupSteps, long SaveSteps, long EvalSteps, string? Note)
{
    public static StepCadence Resolve(TrainingConfig config, long totalSteps)
    {
        long warmup = config.WarmupRatio > 0 ? (long)(config.WarmupRatio * totalSteps) : config.WarmupSteps;
        long PerEpoch(int count) => (long)Math.Ceiling(totalSteps / (count * Math.Max(config.NumEpochs, 1e-9)));
        var save = config.SavesPerEpoch > 0 ? PerEpoch(config.SavesPerEpoch) : config.SaveSteps;
        var eval = config.EvalsPerEpoch > 0 ? PerEpoch(config.EvalsPerEpoch) : config.EvalSteps;
        var parts = new List<string>();
        if (config.WarmupRatio > 0) parts.Add($"warmup_ratio {config.WarmupRatio.ToString(CultureInfo.InvariantCulture)} = {warmup} warm-up steps");
        if (config.SavesPerEpoch > 0) parts.Add($"saves_per_epoch {config.SavesPerEpoch} = a checkpoint every {save} steps");
        if (config.EvalsPerEpoch > 0) parts.Add($"evals_per_epoch {config.EvalsPerEpoch} = an evaluation every {eval} steps");
        return new StepCadence(warmup, save, eval, parts.Count == 0 ? null : $"of {totalSteps} steps: " + string.Join("; ", parts));
    }
}
