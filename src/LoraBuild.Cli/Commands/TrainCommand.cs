using System.CommandLine;
using System.Globalization;
using LoraBuild.Training;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild train</c>: fine-tune from a YAML config and/or flags (flags win).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Adapter YAML (keys as in docs/training.md)." };
        var model = new Option<string?>("--model") { Description = "base_model: HF model folder." };
        var dataset = new Option<string?>("--dataset") { Description = "dataset: training JSONL." };
        var evalDataset = new Option<string?>("--eval-dataset") { Description = "eval_dataset: evaluation JSONL." };
        var output = new Option<string?>("--out") { Description = "output_dir." };
        var rank = new Option<int?>("--rank") { Description = "r" };
        var alpha = new Option<double?>("--alpha") { Description = "lora_alpha" };
        var quantization = new Option<string?>("--quantization") { Description = "none | nf4 | int8" };
        var dora = new Option<bool>("--dora") { Description = "use_dora: true" };
        var steps = new Option<int?>("--steps") { Description = "max_steps" };
        var lr = new Option<double?>("--lr") { Description = "learning_rate" };
        var seed = new Option<int?>("--seed") { Description = "seed" };
        var method = new Option<string?>("--method") { Description = "lora | full" };
        var device = new Option<string?>("--device") { Description = "auto | cpu | cuda" };
        var set = new Option<string[]>("--set") { Description = "Any key: --set key=value (repeatable).", AllowMultipleArgumentsPerToken = false };
        var setOrigin = new Option<string?>("--set-origin") { Description = "Where the --set values were written, as FILE(LINE) (the SDK passes the project line of the item), for error locations." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint whose fingerprint matches." };
        var lockPath = new Option<string?>("--lock") { Description = "lora.lock.json pinning Hub base models and datasets (default: beside --config)." };
        var locked = new Option<bool>("--locked") { Description = "Fail when the lock is missing, lacks a Hub input, or a revision moved (LoraBuildLockedMode)." };
        var update = new Option<bool>("--update-lock") { Description = "Re-resolve every Hub revision and rewrite the lock (LoraBuildUpdateLock)." };
        var command = new Command("train", "Fine-tune a LoRA / DoRA / QLoRA / QDoRA adapter (or all weights) from JSONL data.")
            { config, model, dataset, evalDataset, output, rank, alpha, quantization, dora, steps, lr, seed, method, device, set, setOrigin, resume, lockPath, locked, update };
        command.SetAction(parse =>
        {
            var settings = new TrainingConfig();
            if (parse.GetValue(config) is { } file) TrainingConfigLoader.Load(file, settings);
            var yamlBaseModel = settings.BaseModel;
            void Flag(string key, object? value)
            {
                if (value is null) return;
                var text = value switch
                {
                    string s => IsPath(key, s) ? Path.GetFullPath(s) : s,
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => value.ToString(),
                };
                settings.Apply(key, new TrainingConfig.Value(text, null, null, "command line", 0));
            }
            Flag("base_model", parse.GetValue(model));
            Flag("dataset", parse.GetValue(dataset));
            Flag("eval_dataset", parse.GetValue(evalDataset));
            Flag("output_dir", parse.GetValue(output));
            Flag("r", parse.GetValue(rank));
            Flag("lora_alpha", parse.GetValue(alpha));
            Flag("quantization", parse.GetValue(quantization));
            if (parse.GetValue(dora)) Flag("use_dora", "true");
            Flag("max_steps", parse.GetValue(steps));
            Flag("learning_rate", parse.GetValue(lr));
            Flag("seed", parse.GetValue(seed));
            Flag("method", parse.GetValue(method));
            Flag("device", parse.GetValue(device));
            var sets = SetValues(parse.GetValue(set) ?? [], parse.GetValue(setOrigin));
            // Every bad --set at once, located at the project line the SDK names.
            settings.ApplyAll(sets);
            // Unless the command line replaced it, a YAML base_model that names no folder may be a Hub id as written.
            if (settings.BaseModel == yamlBaseModel && settings.BaseModel is { } fromYaml && !Directory.Exists(fromYaml) && settings.BaseModelAsWritten is { } written)
                settings.BaseModel = written;
            // A config mistake fails before anything is downloaded (the Hub id itself is resolved just below).
            var hubModel = settings.BaseModelIsHubId;
            settings.BaseModelIsHubId = false;
            settings.Validate("training configuration");
            settings.BaseModelIsHubId = hubModel;
            // Hub inputs (base_model id, Hub datasets) are downloaded and pinned before the run starts.
            using var hub = new Hub.HubInputs(parse.GetValue(lockPath) ?? Hub.HubInputs.DefaultLockPath(parse.GetValue(config)), parse.GetValue(locked), parse.GetValue(update));
            hub.ResolveBaseModel(settings);
            hub.ResolveDatasets(settings);
            hub.SaveLock();
            new Trainer(settings, Events.WorkerEventWriter.Console.Write, new Charts.LossChart()) { DatasetSource = hub.Datasets }.Run(parse.GetValue(resume));
            return 0;
        });
        return command;
    }

    /// <summary>--set key=value pairs as settings located at the project line the SDK names (or "command line").</summary>
    internal static List<(string, TrainingConfig.Value)> SetValues(IEnumerable<string> pairs, string? setOrigin)
    {
        var (origin, originLine) = Origin(setOrigin);
        var sets = new List<(string, TrainingConfig.Value)>();
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=');
            if (equals <= 0) throw new Diagnostics.LoraBuildException(Diagnostics.ErrorCodes.BadArgument, $"--set expects key=value, got '{pair}'.", origin == "command line" ? null : origin, originLine);
            var key = pair[..equals];
            var text = pair[(equals + 1)..];
            sets.Add((key, new TrainingConfig.Value(IsPath(key, text) ? Path.GetFullPath(text) : text, null, null, origin, originLine)));
        }
        return sets;
    }

    /// <summary>"Adapters.csproj(12)" -> (file, 12); none -> "command line".</summary>
    static (string Source, int Line) Origin(string? text)
    {
        if (string.IsNullOrEmpty(text)) return ("command line", 0);
        var open = text.LastIndexOf('(');
        return open > 0 && text.EndsWith(')') && int.TryParse(text[(open + 1)..^1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var line)
            ? (text[..open], line) : (text, 0);
    }

    static bool IsPath(string key, string text) =>
        PathKeys.Contains(key) && text.Length > 0 && !(key == "base_model" && !Directory.Exists(text) && LoraBuild.Hub.HubReference.TryParse(text) is not null);

    static readonly string[] PathKeys = ["base_model", "dataset", "eval_dataset", "output_dir"];
}
