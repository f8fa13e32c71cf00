namespace LoraBuild.Training;

/// <summary>HF transformers' schedules (get_constant/linear/cosine_schedule_with_warmup), as a factor of the peak rate.</summary>
public static class LearningRateSchedule
{
    public static double At(string kind, long step, long totalSteps, long warmupSteps, double peak)
    {
        if (step < warmupSteps) return peak * step / Math.Max(1, warmupSteps);
        var progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return kind switch
        {
            "constant" => peak,
            "linear" => peak * Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps)),
            "cosine" => peak * Math.Max(0.0, 0.5 * (1 + Math.Cos(Math.PI * progress))),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "constant, linear or cosine"),
        };
    }
}
