using System.Security.Cryptography;
using System.Text;
using LoraBuild.IO;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraBuild.Tasks;

/// <summary>
/// Validates &lt;LoraAdapter&gt; items and fingerprints everything that decides each adapter: base-model files, dataset
/// and eval-dataset contents, the Config file, every setting, and the worker itself. Hashes come from a cache keyed by
/// size and modification time, so an unchanged build costs a few stat calls. An adapter is up to date when its
/// completed output carries the same fingerprint; only the others are returned in <see cref="AdaptersToTrain"/>.
/// </summary>
public sealed class PrepareLoraAdapters : Microsoft.Build.Utilities.Task
{
    public const string StampFile = RunLayout.StampFile;

    [Required] public ITaskItem[] Adapters { get; set; } = [];
    [Required] public string ProjectFile { get; set; } = "";
    [Required] public string IntermediateDirectory { get; set; } = "";
    [Required] public string WorkerPath { get; set; } = "";
    public string Device { get; set; } = "auto";
    public string TorchBackend { get; set; } = "cpu";
    /// <summary>lora.lock.json: what it pins of the Hub datasets an adapter's Config names joins the fingerprint.</summary>
    public string LockFile { get; set; } = "";

    [Output] public ITaskItem[] PreparedAdapters { get; set; } = [];
    [Output] public ITaskItem[] AdaptersToTrain { get; set; } = [];

    public override bool Execute()
    {
        var prepared = new List<ITaskItem>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var adapter in Adapters)
        {
            if (!names.Add(adapter.ItemSpec))
            {
                Log.LogError(null, "LB0203", null, ProjectFile, AdapterSettings.ItemLine(ProjectFile, "LoraAdapter", adapter.ItemSpec), 0, 0, 0,
                    "LoraAdapter '{0}' is declared twice.", adapter.ItemSpec);
                continue;
            }
            if (!AdapterSettings.Validate(adapter, ProjectFile, Log)) continue;
            var work = Path.GetFullPath(Path.Combine(IntermediateDirectory, adapter.ItemSpec));
            var fingerprint = Fingerprint(adapter);
            var output = new TaskItem(adapter);
            output.SetMetadata("Fingerprint", fingerprint);
            output.SetMetadata("WorkDirectory", work + Path.DirectorySeparatorChar);
            var run = Path.Combine(work, RunLayout.RunFolder);
            output.SetMetadata("RunDirectory", run + Path.DirectorySeparatorChar);
            // Full paths of the run layout (src/LoraBuild.Contracts/RunLayout.cs) for the targets, which cannot read C#.
            output.SetMetadata("AdapterDirectory", Path.Combine(run, RunLayout.AdapterFolder) + Path.DirectorySeparatorChar);
            output.SetMetadata("ShippedRunFiles", string.Join(";", RunLayout.RunFilesShipped.Select(f => Path.Combine(run, f))));
            output.SetMetadata("StampFile", Path.Combine(work, RunLayout.StampFile));
            output.SetMetadata("MergedDirectory", Path.Combine(work, RunLayout.MergedFolder) + Path.DirectorySeparatorChar);
            output.SetMetadata("UpToDate", IsUpToDate(work, fingerprint) ? "true" : "false");
            prepared.Add(output);
        }
        PreparedAdapters = prepared.ToArray();
        AdaptersToTrain = prepared.Where(a => a.GetMetadata("UpToDate") != "true").ToArray();
        foreach (var a in prepared.Where(a => a.GetMetadata("UpToDate") == "true"))
            Log.LogMessage(MessageImportance.High, "LoraAdapter '{0}' is up to date ({1}).", a.ItemSpec, a.GetMetadata("Fingerprint")[..12]);
        return !Log.HasLoggedErrors;
    }

    public static bool IsUpToDate(string workDirectory, string fingerprint)
    {
        var stamp = Path.Combine(workDirectory, StampFile);
        return File.Exists(stamp) && File.ReadAllText(stamp).Trim() == fingerprint && File.Exists(Path.Combine(workDirectory, RunLayout.RunFolder, RunLayout.RunFile));
    }

    // The lock, read once for all the adapters of the build.
    (Hub.LoraLockFile? Lock, bool Unreadable)? lockFile;

    (Hub.LoraLockFile? Lock, bool Unreadable) ReadLock()
    {
        try
        {
            return (Hub.LoraLockFile.TryRead(LockFile), false);
        }
        catch (Hub.HubException)
        {
            return (null, true);
        }
    }

    string Fingerprint(ITaskItem adapter)
    {
        var lines = new List<string> { "worker=" + FileHashes.Sha256(WorkerPath), "device=" + Device, "backend=" + TorchBackend };
        var baseModel = adapter.GetMetadata("BaseModel");
        if (!string.IsNullOrEmpty(baseModel))
        {
            foreach (var file in Directory.EnumerateFiles(baseModel).Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".safetensors", StringComparison.Ordinal))
                         .OrderBy(f => f, StringComparer.Ordinal))
                lines.Add($"model/{Path.GetFileName(file)}={FileHashes.Sha256(file)}");
        }
        // A Hub base: its locked commit (the files above are that commit's snapshot).
        if (adapter.GetMetadata("BaseModelCommit") is { Length: > 0 } commit) lines.Add("base_commit=" + commit);
        foreach (var metadata in new[] { "Dataset", "EvalDataset", "Config" })
        {
            var path = adapter.GetMetadata(metadata);
            if (!string.IsNullOrEmpty(path)) lines.Add($"{metadata}={FileHashes.Sha256(path)}");
        }
        if (adapter.GetMetadata("Config") is { Length: > 0 } config && File.Exists(config) && LockFile.Length > 0 && File.Exists(LockFile))
        {
            lockFile ??= ReadLock();
            // An unreadable lock is the worker's error to report (LB0422, with the fix); the adapter is not up to date.
            if (lockFile.Value.Unreadable) lines.Add("dataset_lock=unreadable " + Guid.NewGuid());
            else lines.AddRange(lockFile.Value.Lock?.DatasetLinesFor(File.ReadAllText(config)) ?? []);
        }
        lines.AddRange(AdapterSettings.WorkerSettings(adapter).Where(s => s.Key is not ("base_model" or "dataset" or "eval_dataset")).Select(s => $"{s.Key}={s.Value}"));
        lines.Add("merge=" + adapter.GetMetadata("Merge"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", lines)))).ToLowerInvariant();
    }
}
