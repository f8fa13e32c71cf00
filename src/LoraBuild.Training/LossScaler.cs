namespace LoraBuild.Training;

/// <summary>
/// fp16 mixed precision's dynamic loss scale, as torch.amp.GradScaler keeps it with its defaults (init_scale 65536,
/// growth_factor 2, backoff_factor 0.5, growth_interval 2000): the loss is multiplied by <see cref="Scale"/> before backward
/// so small float16 gradients do not flush to zero; the gradients are divided by it again (in float32) before clipping
/// and the update. A step whose gradients hold an inf or NaN is skipped (no update; as in HF Trainer the learning-rate
/// schedule does not advance either) and the scale is halved; after <see cref="GrowthInterval"/> clean steps in a row it
/// is doubled (when the result is finite). The scale is a float32 value, as GradScaler's tensor is.
/// </summary>
public sealed class LossScaler
{
    public const float InitScale = 65536f;
    public const double GrowthFactor = 2.0;
    public const double BackoffFactor = 0.5;
    public const int GrowthInterval = 2000;

    /// <summary>What a checkpoint keeps (trainer_state.json), as GradScaler's state_dict: the scale and the growth tracker,
    /// plus the steps skipped so far (the learning-rate schedule and AdamW's step count are behind the global step by them).</summary>
    public sealed record State(float Scale, int GrowthTracker, long SkippedSteps);

    public LossScaler(int growthInterval = GrowthInterval)
    {
        Interval = growthInterval;
    }

    public int Interval { get; }
    public float Scale { get; private set; } = InitScale;
    /// <summary>Clean steps in a row since the last growth or backoff.</summary>
    public int GrowthTracker { get; private set; }
    /// <summary>Steps skipped because their gradients overflowed.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>1 / scale as GradScaler computes it (in double, then rounded to float32).</summary>
    public float InverseScale => (float)(1.0 / Scale);

    /// <summary>
    /// Records one step (torch's _amp_update_scale_): <paramref name="foundInf"/> halves the scale, resets the tracker and
    /// counts a skipped step; a clean step grows the tracker and, at the interval, doubles the scale.
    /// </summary>
    public void Update(bool foundInf)
    {
        if (foundInf)
        {
            Scale = (float)(Scale * BackoffFactor);
            GrowthTracker = 0;
            SkippedSteps++;
            return;
        }
        var successful = GrowthTracker + 1;
        if (successful == Interval)
        {
            var grown = (float)(Scale * GrowthFactor);
            if (float.IsFinite(grown)) Scale = grown;
            GrowthTracker = 0;
        }
        else GrowthTracker = successful;
    }

    public State Save() => new(Scale, GrowthTracker, SkippedSteps);

    public void Load(State state)
    {
        Scale = state.Scale;
        GrowthTracker = state.GrowthTracker;
        SkippedSteps = state.SkippedSteps;
    }
}
