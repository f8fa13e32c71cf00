using LoraBuild.Events;
using LoraBuild.Hub;
using LoraBuild.Training;
using LoraBuild.Training.Data.Hub;

namespace LoraBuild.Cli.Hub;

/// <summary>
/// The Hub inputs of a training config, resolved before the run against one lora.lock.json: a base_model given as a Hub
/// id (revision_of_model, Axolotl's revision key) becomes its snapshot folder in the HF cache, and each Hub dataset entry
/// its downloaded files (<see cref="HubDatasetSource"/>, which the trainer then reads). The lock is written once, after
/// both, and only when something came from the Hub; never in locked mode.
/// </summary>
public sealed class HubInputs : IDisposable
{
    readonly HubClient client;
    readonly BaseModelLock? models;
    bool modelResolved;

    public HubInputs(string? lockPath, bool locked, bool update)
    {
        client = new HubClient(HubSettings.FromEnvironment());
        models = lockPath is null ? null : new BaseModelLock(client, Path.GetFullPath(lockPath), locked, update);
        Datasets = new HubDatasetSource(client, models is null ? null : new DatasetLock(models.LockFile, models.Path, locked, update), HubModels.ReportProgress);
    }

    public HubDatasetSource Datasets { get; }

    /// <summary>lora.lock.json beside the config file (as the SDK keeps it beside the project); none without a config file.</summary>
    public static string? DefaultLockPath(string? configFile) =>
        configFile is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configFile))!, LoraLockFile.FileName);

    /// <summary>base_model as a Hub id: its snapshot folder (downloaded if needed), the id for adapter_config.json, the commit.</summary>
    public void ResolveBaseModel(TrainingConfig settings)
    {
        if (settings.BaseModel is not { } model || Directory.Exists(model)) return;
        if (HubReference.TryParse(model, RepoType.Model, settings.RevisionOfModel) is not { } reference) return;
        var snapshot = models is not null ? models.Resolve(reference) : HubModels.Download(client, reference.Repo, reference.Revision);
        WorkerEventWriter.Console.Result(WorkerPhases.Download, $"model: {reference} = {snapshot.Commit[..12]} ({snapshot.Folder})");
        settings.BaseModel = snapshot.Folder;
        settings.BaseModelIsHubId = false;
        settings.BaseModelId ??= reference.Repo.Id;
        settings.BaseModelCommit ??= snapshot.Commit;
        modelResolved = true;
    }

    /// <summary>Every Hub dataset entry's files, downloaded now (the trainer reads them from the same source, resolved once).</summary>
    public void ResolveDatasets(TrainingConfig settings)
    {
        foreach (var spec in settings.TrainSpecs.Concat(settings.EvalSpecs).Where(s => s.IsHub)) Datasets.Files(spec);
    }

    /// <summary>Writes lora.lock.json when a Hub input was resolved and the lock changed.</summary>
    public void SaveLock()
    {
        if (models is null || !(modelResolved || Datasets.Resolved)) return;
        if (models.Save()) WorkerEventWriter.Console.Result(WorkerPhases.Download, $"wrote {models.Path}");
    }

    public void Dispose() => client.Dispose();
}
