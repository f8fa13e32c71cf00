using System.Globalization;
using LoraBuild.Events;
using LoraBuild.Hub;

namespace LoraBuild.Cli.Hub;

/// <summary>
/// Where the worker turns a base model named by Hub id ("org/name[@rev]") into a folder: the snapshot in the HF cache,
/// downloaded when missing, with "download" progress events. A folder path is returned unchanged.
/// </summary>
public static class HubModels
{
    /// <summary>The folder for --model / base_model: the text itself unless it is a Hub id.</summary>
    public static string Locate(string modelOrId, string? revision = null) => Resolve(modelOrId, revision)?.Folder ?? modelOrId;

    /// <summary>The cached snapshot of a Hub id (downloading what is missing), or null when the text is a local path.</summary>
    public static HubSnapshot? Resolve(string modelOrId, string? revision = null)
    {
        if (HubReference.TryParse(modelOrId, RepoType.Model, revision) is not { } reference) return null;
        using var client = new HubClient(HubSettings.FromEnvironment());
        return Download(client, reference.Repo, reference.Revision);
    }

    /// <summary>
    /// The model files of a repo at a revision; when the Hub cannot be reached, the cached snapshot of that revision,
    /// as huggingface_hub falls back to its cache.
    /// </summary>
    public static HubSnapshot Download(HubClient client, RepoId repo, string revision)
    {
        try
        {
            return client.DownloadSnapshotAsync(repo, revision, ModelFiles.IsWanted, ReportProgress).GetAwaiter().GetResult();
        }
        catch (HubException e) when (e.Code == Diagnostics.ErrorCodes.HubUnreachable && client.FromCache(repo, revision, ModelFiles.IsWanted) is { Files.Count: > 0 } cached)
        {
            WorkerEventWriter.Console.Status("download", $"{repo}: the Hub is unreachable; using the cached snapshot {cached.Commit[..12]}.");
            return cached;
        }
    }

    public static void ReportProgress(HubProgress p)
    {
        var total = p.Total is { } t ? (t / 1e6).ToString("F1", CultureInfo.InvariantCulture) : "?";
        var message = string.Create(CultureInfo.InvariantCulture,
            $"downloading {p.File}: {p.Bytes / 1e6:F1}/{total} MB, {p.BytesPerSecond / 1e6:F1} MB/s");
        WorkerEventWriter.Console.Progress("download", message, p.Bytes, p.Total, "bytes", p.BytesPerSecond, p.EtaSeconds);
    }
}
