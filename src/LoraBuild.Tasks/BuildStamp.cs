using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraBuild.Tasks;

/// <summary>
/// What `dotnet pack` may ship: an adapter whose stamp (lorabuild.fingerprint) equals the fingerprint of the current
/// inputs and whose run is complete. Anything else (inputs changed since the build, a build killed before it finished,
/// never built) is LB0160, never an old adapter under a new model card.
/// </summary>
public static class BuildStamp
{
    public const string NotBuilt = "LB0160";

    public static bool CheckPackable(ITaskItem adapter, TaskLoggingHelper log)
    {
        var work = adapter.GetMetadata("WorkDirectory");
        var run = adapter.GetMetadata("RunDirectory");
        var stampPath = Path.Combine(work, PrepareLoraAdapters.StampFile);
        var stamp = File.Exists(stampPath) ? File.ReadAllText(stampPath).Trim() : null;
        var fingerprint = adapter.GetMetadata("Fingerprint");
        var isMerge = adapter.GetMetadata("Merge") == "true";
        var complete = File.Exists(Path.Combine(run, RunLayout.RunFile)) && File.Exists(Path.Combine(run, RunLayout.AdapterFolder, RunLayout.ManifestFile));
        string? reason =
            stamp is null ? "it has not been built (no completed build stamp)" :
            stamp != fingerprint ? $"its inputs changed since it was built (built {Short(stamp)}, inputs now {Short(fingerprint)})" :
            !complete ? "its last build did not finish (the run output is incomplete)" :
            null;
        if (reason is null) return true;
        log.LogError(null, NotBuilt, null, null, 0, 0, 0, 0,
            "LoraAdapter '{0}' cannot be packed: {1}. Run 'dotnet build' first (or pack without --no-build){2}.",
            adapter.ItemSpec, reason, isMerge ? "" : "; the build resumes from its checkpoints");
        return false;
    }

    static string Short(string fingerprint) => fingerprint.Length > 12 ? fingerprint[..12] : fingerprint;
}
