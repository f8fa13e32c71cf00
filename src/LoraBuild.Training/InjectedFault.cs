namespace LoraBuild.Training;

/// <summary>
/// Faults the reliability tests inject into the worker (they cannot fill a real disk on every machine):
/// <c>LORABUILD_FAULT_DISK_FULL_AT_STEP=N</c> makes the checkpoint at step N fail as ENOSPC does, halfway through its
/// write; <c>LORABUILD_FAULT_NAN_LOSS_AT_STEP=N</c> makes step N's loss NaN, as a diverging run's is. Unset, nothing happens.
/// </summary>
public static class InjectedFault
{
    const int ENOSPC = 28;

    public static void DiskFullAtCheckpoint(long step)
    {
        if (Environment.GetEnvironmentVariable("LORABUILD_FAULT_DISK_FULL_AT_STEP") is { Length: > 0 } text &&
            long.TryParse(text, out var at) && at == step)
            throw new IOException("No space left on device (injected by LORABUILD_FAULT_DISK_FULL_AT_STEP)", ENOSPC);
    }

    /// <summary>Step <paramref name="step"/>'s loss as the run computed it, or NaN where a test asked for divergence there.</summary>
    public static double LossAtStep(long step, double loss) =>
        Environment.GetEnvironmentVariable("LORABUILD_FAULT_NAN_LOSS_AT_STEP") is { Length: > 0 } text && long.TryParse(text, out var at) && at == step
            ? double.NaN : loss;

    /// <summary>ENOSPC or EDQUOT, as .NET reports them in <see cref="Exception.HResult"/> on Linux, or their text.</summary>
    public static bool IsDiskFull(Exception e) =>
        e.HResult is ENOSPC or 122 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) ||
        e.Message.Contains("quota", StringComparison.OrdinalIgnoreCase);
}
