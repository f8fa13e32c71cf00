using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.Events;
using LoraBuild.Hub;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraBuild.Tasks;

/// <summary>
/// Adapters whose BaseModel is a Hub id (org/name, BaseModelRevision): runs `lorabuild fetch` (downloads happen in the
/// worker, never in the MSBuild node), which pins each to a commit in lora.lock.json and fills the HF cache, then
/// returns the adapters with BaseModel = the cached snapshot folder, BaseModelId = the id and BaseModelCommit = the
/// commit (so the fingerprint holds the commit). Adapters with a local folder pass through without a worker.
/// </summary>
public sealed class ResolveLoraBaseModels : ToolTask
{
    [Required] public ITaskItem[] Adapters { get; set; } = [];
    [Required] public string WorkerPath { get; set; } = "";
    [Required] public string LockFile { get; set; } = "";
    [Required] public string ResultFile { get; set; } = "";
    public bool LockedMode { get; set; }
    public bool UpdateLock { get; set; }
    public string? DotNetHost { get; set; }

    [Output] public ITaskItem[] ResolvedAdapters { get; set; } = [];

    List<string> models = [];

    protected override string ToolName => "dotnet";

    protected override string GenerateFullPathToTool() =>
        !string.IsNullOrEmpty(DotNetHost) ? DotNetHost! :
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>The Hub reference an adapter asks for ("org/name" or "org/name@rev"), or null for a local folder.</summary>
    static string? HubModel(ITaskItem adapter)
    {
        var model = adapter.GetMetadata("BaseModel");
        if (string.IsNullOrEmpty(model) || HubReference.TryParse(model, RepoType.Model, adapter.GetMetadata("BaseModelRevision")) is not { } reference) return null;
        return reference.Revision == HubReference.DefaultRevision ? reference.Repo.Id : $"{reference.Repo.Id}@{reference.Revision}";
    }

    public override bool Execute()
    {
        models = Adapters.Select(HubModel).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (models.Count == 0)
        {
            ResolvedAdapters = Adapters;
            return true;
        }
        if (!File.Exists(WorkerPath))
        {
            Log.LogError(null, "LB0204", null, null, 0, 0, 0, 0, "The lorabuild worker was not found at '{0}'.", WorkerPath);
            return false;
        }
        EnvironmentVariables = [.. EnvironmentVariables ?? [], WorkerEventChannel.EnvironmentVariable + "=1", ParentWatch.Variable + "=" + Environment.ProcessId];
        if (File.Exists(ResultFile)) File.Delete(ResultFile);
        if (!base.Execute() || Log.HasLoggedErrors) return false;

        using var result = JsonDocument.Parse(File.ReadAllText(ResultFile));
        var byModel = result.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("model").GetString()!, StringComparer.Ordinal);
        ResolvedAdapters = Adapters.Select(adapter =>
        {
            if (HubModel(adapter) is not { } model) return adapter;
            var resolved = byModel[model];
            var item = new TaskItem(adapter);
            item.SetMetadata("BaseModel", resolved.GetProperty("folder").GetString());
            item.SetMetadata("BaseModelCommit", resolved.GetProperty("commit").GetString());
            if (string.IsNullOrEmpty(adapter.GetMetadata("BaseModelId"))) item.SetMetadata("BaseModelId", resolved.GetProperty("id").GetString());
            item.SetMetadata("BaseModelRevision", "");
            return (ITaskItem)item;
        }).ToArray();
        return true;
    }

    protected override string GenerateCommandLineCommands()
    {
        var args = new CommandLineBuilder();
        args.AppendFileNameIfNotNull(WorkerPath);
        args.AppendSwitch("fetch");
        foreach (var model in models) args.AppendSwitchIfNotNull("--model ", model);
        args.AppendSwitchIfNotNull("--lock ", LockFile);
        if (LockedMode) args.AppendSwitch("--locked");
        if (UpdateLock) args.AppendSwitch("--update-lock");
        args.AppendSwitchIfNotNull("--result ", ResultFile);
        return args.ToString();
    }

    /// <summary>Download progress events become the live status line; results are printed; anything else as usual.</summary>
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (!WorkerEventChannel.TryParse(singleLine, out var e))
        {
            base.LogEventsFromTextOutput(singleLine, messageImportance);
            return;
        }
        if (e.Kind == WorkerEventKinds.Result) BuildProgress.Line(BuildEngine, nameof(ResolveLoraBaseModels), "  " + e.Message);
        else BuildProgress.Status(BuildEngine, nameof(ResolveLoraBaseModels), "downloading", e.Message, RunLoraWorker.LiveText(e.Message));
    }
}
