using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Hub;

namespace LoraBuild.Runtime;

/// <summary>The base model of adapters built on a Hub id: the snapshot of the recorded commit in the HF cache.</summary>
static class HubBaseModel
{
    public static string Locate(IReadOnlyList<AdapterSource> sources, HostOptions options)
    {
        var bases = sources.Select(s => (Source: s, Manifest: AdapterManifest.TryLoad(s.Directory))).ToList();
        var named = bases.Where(b => b.Manifest?.BaseModelId is not null && b.Manifest.BaseModelCommit is not null)
            .Select(b => (b.Manifest!.BaseModelId!, b.Manifest.BaseModelCommit!)).Distinct().ToList();
        if (named.Count == 0 || bases.Any(b => b.Manifest?.BaseModelCommit is null))
            throw new LoraBuildException(ErrorCodes.HubIdInvalid,
                "AdapterHost.Load without a base folder needs adapters built on a Hub base model (their lorabuild.json names base_model_id and base_model_commit); " +
                $"{string.Join(", ", bases.Where(b => b.Manifest?.BaseModelCommit is null).Select(b => $"'{b.Source.Name}'").DefaultIfEmpty("none"))} does not. Pass the base model folder.");
        if (named.Count > 1)
            throw new LoraBuildException(ErrorCodes.HubIdInvalid,
                $"The adapters were built on different bases ({string.Join(", ", named.Select(n => $"{n.Item1}@{n.Item2[..12]}"))}); one host holds one base.");
        var (id, commit) = named[0];
        var settings = HubSettings.FromEnvironment();
        if (!options.DownloadBaseModel) settings = settings with { Offline = true };
        using var client = new HubClient(settings);
        var repo = new RepoId(RepoType.Model, id);
        try
        {
            if (client.FromCache(repo, commit, ModelFiles.IsWanted) is { Files.Count: > 0 } cached && File.Exists(Path.Combine(cached.Folder, "config.json")))
                return cached.Folder;
            return client.DownloadSnapshotAsync(repo, commit, ModelFiles.IsWanted).GetAwaiter().GetResult().Folder;
        }
        catch (HubException e) when (e.Code == ErrorCodes.HubOfflineNotCached && !options.DownloadBaseModel)
        {
            throw new LoraBuildException(ErrorCodes.HubOfflineNotCached,
                $"The base model {id} at {commit} is not in the HF cache ({client.Cache.Root}). Set HostOptions.DownloadBaseModel to download it, or run `hf download {id} --revision {commit}`.");
        }
        catch (HubException e)
        {
            throw new LoraBuildException(e.Code, e.Message, e.File, inner: e);
        }
    }
}
