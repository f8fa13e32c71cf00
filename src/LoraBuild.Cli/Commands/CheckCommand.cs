using System.CommandLine;
using LoraBuild.Diagnostics;
using LoraBuild.Hub;
using LoraBuild.Training;
using LoraBuild.Training.Data.Hub;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild check --config FILE [--set key=value]</c>: validates a configuration (LoraBuild's or Axolotl's) without loading
/// weights or downloading; prints the effective settings, each note, the datasets and what a run would fetch; exit 0 when a
/// run would start, else every problem at once, each at its file, line and column.
/// </summary>
public static class CheckCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Adapter YAML (LoraBuild keys or an Axolotl config).", Required = true };
        var set = new Option<string[]>("--set") { Description = "Any key: --set key=value (repeatable), applied after the file." };
        var setOrigin = new Option<string?>("--set-origin") { Description = "Where the --set values were written, as FILE(LINE)." };
        var command = new Command("check", "Validate a training configuration and its datasets without loading weights or downloading.") { config, set, setOrigin };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(config)!;
            var errors = new List<LoraBuildException>();
            var settings = TrainingConfigLoader.Load(file, null, errors);
            settings.ApplyAll(TrainCommand.SetValues(parse.GetValue(set) ?? [], parse.GetValue(setOrigin)), errors);
            // Hub inputs: what a run would fetch, from lora.lock.json and the HF cache only (never the network).
            var lockPath = Cli.Hub.HubInputs.DefaultLockPath(file)!;
            var lockFile = LoraLockFile.TryRead(lockPath) ?? new LoraLockFile();
            // Offline: the client answers from the cache or not at all.
            using var client = new HubClient(HubSettings.FromEnvironment() with { Offline = true });
            var datasets = new HubDatasetSource(client, new DatasetLock(lockFile, lockPath, locked: false, update: false));
            var report = ConfigCheck.Run(settings, errors, file, datasets, c => DescribeHubModel(client, lockFile, c));
            Console.WriteLine($"{file}: effective settings");
            foreach (var (key, value) in report.Settings) Console.WriteLine($"  {key}: {value}");
            foreach (var dataset in report.Datasets) Console.WriteLine($"  {dataset}");
            foreach (var note in report.Notes) Console.WriteLine(note);
            foreach (var fetch in report.WouldFetch) Console.WriteLine($"would fetch: {fetch}");
            foreach (var error in report.Errors) Console.Error.WriteLine(error.ToString());
            Console.WriteLine(report.Ok ? "check: ok, a run would start" : $"check: {report.Errors.Count} problem(s)");
            return report.Ok ? 0 : 1;
        });
        return command;
    }

    /// <summary>A Hub base_model as check lists it; when lora.lock.json pins it and the HF cache holds that snapshot, its folder.</summary>
    static (string WouldFetch, string? CachedFolder) DescribeHubModel(HubClient client, LoraLockFile lockFile, TrainingConfig config)
    {
        if (HubReference.TryParse(config.BaseModel ?? "", RepoType.Model, config.RevisionOfModel) is not { } reference)
            return ($"model {config.BaseModel}", null);
        var what = $"model {reference}: config.json, tokenizer files and *.safetensors";
        if (lockFile.Models.TryGetValue(reference.Repo.Id, out var entry) && entry.Revision == reference.Revision
            && client.FromCache(reference.Repo, entry.Commit, ModelFiles.IsWanted) is { Files.Count: > 0 } locked
            && entry.Files.Keys.All(f => locked.Files.Any(c => c.Path == f)))
            return ($"{what}: locked at {entry.Commit[..12]}, in the HF cache: no download", locked.Folder);
        if (client.FromCache(reference.Repo, reference.Revision, ModelFiles.IsWanted) is { Files.Count: > 0 } cached)
            return ($"{what}: the HF cache has {reference.Revision} at {cached.Commit[..12]}", null);
        return (what, null);
    }
}
