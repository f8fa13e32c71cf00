using LoraBuild.Events;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Build.Framework;
using LoraBuild.Diagnostics;
using Microsoft.Build.Utilities;

namespace LoraBuild.Tasks;

/// <summary>
/// Launches the lorabuild worker (a separate process: TorchSharp never loads into MSBuild) for one adapter.
/// The worker reports through structured events (LoraBuild.Events, LORABUILD_EVENTS=1): a status event becomes the live
/// line, a result event a printed line; canonical "file(line): error LBxxxx: ..." lines become coded build errors.
/// </summary>
public sealed class RunLoraWorker : ToolTask
{
    /// <summary>A coded error line of the worker: "origin: error LBxxxx: message".</summary>
    static readonly Regex CodedError = new(@"^(?:(?<origin>.*?):? )?error (?<code>LB\d{4}): (?<message>.*)$", RegexOptions.Compiled);

    [Required] public ITaskItem Adapter { get; set; } = null!;
    [Required] public string WorkerPath { get; set; } = "";
    /// <summary>train, merge, or export (the GGUF files and Modelfile of &lt;LoraAdapter Export="gguf"&gt;).</summary>
    [Required] public string Command { get; set; } = "train";
    public string Device { get; set; } = "auto";
    public string TorchBackend { get; set; } = "cpu";
    public string? LibTorchDirectory { get; set; }
    public string? DotNetHost { get; set; }
    /// <summary>The project declaring the adapter: worker errors in its settings are located at the item's line there.</summary>
    public string? ProjectFile { get; set; }
    /// <summary>lora.lock.json (LoraBuildLockFile): Hub datasets in the adapter's config are pinned there, as base models are by fetch.</summary>
    public string? LockFile { get; set; }
    public bool LockedMode { get; set; }
    public bool UpdateLock { get; set; }

    protected override string ToolName => "dotnet";

    protected override string GenerateFullPathToTool() =>
        !string.IsNullOrEmpty(DotNetHost) ? DotNetHost! :
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Normal;

    protected override string GenerateCommandLineCommands()
    {
        var args = new CommandLineBuilder();
        args.AppendFileNameIfNotNull(WorkerPath);
        var run = Adapter.GetMetadata("RunDirectory");
        if (Command == "merge")
        {
            args.AppendSwitch("merge");
            args.AppendSwitchIfNotNull("--model ", Path.GetFullPath(Adapter.GetMetadata("BaseModel")));
            args.AppendSwitchIfNotNull("--adapter ", Path.Combine(run, RunLayout.AdapterFolder));
            args.AppendSwitchIfNotNull("--out ", Path.Combine(Adapter.GetMetadata("WorkDirectory"), RunLayout.MergedFolder));
            return args.ToString();
        }
        if (Command == "export")
        {
            // The GGUF export of Export="gguf" (docs/gguf.md): the adapter GGUF, or with ExportMerged the merged model GGUF, and the Modelfile.
            args.AppendSwitch("export gguf");
            args.AppendSwitchIfNotNull("--model ", Path.GetFullPath(Adapter.GetMetadata("BaseModel")));
            args.AppendSwitchIfNotNull("--adapter ", Path.Combine(run, RunLayout.AdapterFolder));
            if (string.Equals(Adapter.GetMetadata("ExportMerged"), "true", StringComparison.OrdinalIgnoreCase)) args.AppendSwitch("--merge");
            args.AppendSwitchIfNotNull("--out ", Adapter.GetMetadata("GgufFile"));
            if (Adapter.GetMetadata("ExportType") is { Length: > 0 } type) args.AppendSwitchIfNotNull("--outtype ", type.ToLowerInvariant());
            args.AppendSwitchIfNotNull("--modelfile ", Adapter.GetMetadata("ModelfileFile"));
            return args.ToString();
        }
        args.AppendSwitch("train");
        var config = Adapter.GetMetadata("Config");
        if (!string.IsNullOrEmpty(config)) args.AppendSwitchIfNotNull("--config ", Path.GetFullPath(config));
        args.AppendSwitchIfNotNull("--out ", run.TrimEnd(Path.DirectorySeparatorChar));
        args.AppendSwitchIfNotNull("--device ", Device);
        args.AppendSwitchIfNotNull("--set ", $"adapter_name={Adapter.ItemSpec}");
        foreach (var (key, value) in AdapterSettings.WorkerSettings(Adapter)) args.AppendSwitchIfNotNull("--set ", $"{key}={value}");
        // Errors in these settings (an unknown TrainingSettings key) then name the project file and the item's line.
        var project = ProjectFile;
        if (!string.IsNullOrEmpty(project)) args.AppendSwitchIfNotNull("--set-origin ", $"{project}({AdapterSettings.ItemLine(project, "LoraAdapter", Adapter.ItemSpec)})");
        if (!string.IsNullOrEmpty(LockFile))
        {
            args.AppendSwitchIfNotNull("--lock ", Path.GetFullPath(LockFile));
            if (LockedMode) args.AppendSwitch("--locked");
            if (UpdateLock) args.AppendSwitch("--update-lock");
        }
        args.AppendSwitch("--resume");
        return args.ToString();
    }

    protected override bool ValidateParameters()
    {
        if (File.Exists(WorkerPath)) return true;
        Log.LogError(null, "LB0204", null, null, 0, 0, 0, 0, "The lorabuild worker was not found at '{0}'.", WorkerPath);
        return false;
    }

    public override bool Execute()
    {
        var environment = new List<string>(EnvironmentVariables ?? []);
        if (TorchBackend == "system") environment.Add("LORABUILD_TORCH_BACKEND=system");
        if (!string.IsNullOrEmpty(LibTorchDirectory)) environment.Add("LORABUILD_TORCH_LIB_DIR=" + LibTorchDirectory);
        // The worker exits when this build process dies (kill -9 included), instead of training on as an orphan.
        environment.Add(ParentWatch.Variable + "=" + Environment.ProcessId);
        environment.Add(WorkerEventChannel.EnvironmentVariable + "=1");
        EnvironmentVariables = environment.ToArray();
        BuildProgress.Status(BuildEngine, nameof(RunLoraWorker), Phase, $"LoraAdapter '{Adapter.ItemSpec}': lorabuild {Command} ...");
        return base.Execute() && !Log.HasLoggedErrors;
    }

    string Phase => Command switch { "merge" => "merging", "export" => "exporting", _ => "training" };

    /// <summary>
    /// A worker that ended without reporting a coded error was killed or crashed: say which, and that the next build
    /// resumes from the checkpoints (instead of MSB6006 "dotnet exited with code 137").
    /// </summary>
    protected override bool HandleTaskExecutionErrors()
    {
        if (Log.HasLoggedErrors) return false;
        var what = ExitCode switch
        {
            137 => "was killed (SIGKILL: out of memory, or stopped by a user or the system)",
            143 => "was terminated (SIGTERM)",
            134 => "crashed (SIGABRT)",
            139 => "crashed (SIGSEGV)",
            > 128 and < 160 => $"was stopped by signal {ExitCode - 128}",
            _ => $"failed with exit code {ExitCode} without reporting an error",
        };
        Log.LogError(null, Command switch { "merge" => "LB0162", "export" => ErrorCodes.GgufExportWorkerFailed, _ => "LB0161" }, null, null, 0, 0, 0, 0,
            "LoraAdapter '{0}': the lorabuild worker ({1}) {2}. Nothing was marked built; {3}",
            Adapter.ItemSpec, Command, what,
            Command switch
            {
                "merge" => "the next build merges again.",
                "export" => "the next build exports again.",
                _ => "the next build resumes from the last checkpoint in " + Adapter.GetMetadata("RunDirectory") + "checkpoints.",
            });
        return false;
    }

    static readonly Regex LiveNoise = new(@" (lr|epoch) \S+| \([^)]*\)", RegexOptions.Compiled);

    /// <summary>
    /// The live line's text: the terminal logger drops a status wider than the terminal (120 columns when it cannot tell),
    /// so step lines keep step, loss, tokens/s and ETA, and any line is cut to fit.
    /// </summary>
    public static string LiveText(string line)
    {
        var text = LiveNoise.Replace(line, "");
        return text.Length <= 72 ? text : text[..71] + "…";
    }

    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        // An export error is about the item's export settings (DoRA without ExportMerged, a family llama.cpp lacks): it is
        // reported at the item's line in the project, with the worker's code and the file it named.
        if (Command == "export" && !string.IsNullOrEmpty(ProjectFile) && CodedError.Match(singleLine) is { Success: true } error)
        {
            var origin = error.Groups["origin"].Value.Trim();
            var code = error.Groups["code"].Value;
            // The worker's remedy is a command-line option; in a project it is the item's metadata.
            var remedy = code == ErrorCodes.GgufDoraAdapter ? " In the project: ExportMerged=\"true\"." : "";
            Log.LogError(null, code, null, ProjectFile, AdapterSettings.ItemLine(ProjectFile!, "LoraAdapter", Adapter.ItemSpec), 0, 0, 0,
                "LoraAdapter '{0}': GGUF export: {1}{2}{3}", Adapter.ItemSpec, error.Groups["message"].Value, origin.Length > 0 ? $" ({origin})" : "", remedy);
            return;
        }
        if (!WorkerEventChannel.TryParse(singleLine, out var e) || IsCanonicalDiagnostic(e.Message))
        {
            // Plain output, and coded warnings carried in an event: MSBuild's canonical-format parsing applies.
            base.LogEventsFromTextOutput(e?.Message ?? singleLine, messageImportance);
            return;
        }
        if (e.Kind == WorkerEventKinds.Status)
            BuildProgress.Status(BuildEngine, nameof(RunLoraWorker), Label(e.Phase), $"{Adapter.ItemSpec}: {e.Message}", $"{Adapter.ItemSpec}: {LiveText(e.Message)}");
        else
            BuildProgress.Line(BuildEngine, nameof(RunLoraWorker), $"  {Adapter.ItemSpec}: {e.Message}");
    }

    /// <summary>The terminal logger's label for a phase.</summary>
    static string Label(string phase) => phase switch
    {
        WorkerPhases.Training => "training",
        WorkerPhases.Evaluation => "evaluating",
        WorkerPhases.Merge => "merging",
        WorkerPhases.Download => "downloading",
        WorkerPhases.Export => "exporting",
        _ => "loading",
    };

    static bool IsCanonicalDiagnostic(string message) => message.Contains(": warning LB", StringComparison.Ordinal) || message.Contains(": error LB", StringComparison.Ordinal);
}
