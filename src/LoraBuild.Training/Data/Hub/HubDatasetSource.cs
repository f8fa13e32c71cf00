using System.Security.Cryptography;
using LoraBuild.Diagnostics;
using LoraBuild.Events;
using LoraBuild.Hub;

namespace LoraBuild.Training.Data.Hub;

/// <summary>
/// Hub datasets (<c>path: org/name</c>, with name, split, data_files, revision) as local files: the revision's commit
/// (pinned in lora.lock.json when a <see cref="DatasetLock"/> is given), the files the entry reads
/// (<see cref="HubDatasetLayout"/>: the repository's own data files, else its refs/convert/parquet branch), downloaded
/// into the HF cache (datasets--org--name) with "download" progress. A locked commit whose files are cached needs no
/// network. Local paths go to <see cref="LocalDatasetSource"/>. Each entry is resolved once per source.
/// </summary>
public sealed class HubDatasetSource(HubClient client, DatasetLock? pins, Action<HubProgress>? progress = null) : IDatasetSource
{
    const string Card = "README.md";
    readonly LocalDatasetSource local = new();
    readonly Dictionary<string, IReadOnlyList<string>> resolved = new(StringComparer.Ordinal);

    /// <summary>True once an entry was pinned or re-pinned (the caller then saves the lock).</summary>
    public bool Resolved => resolved.Count > 0;

    public IReadOnlyList<string> Files(DatasetSpec spec)
    {
        if (!spec.IsHub) return local.Files(spec);
        var key = $"{spec.Path}\n{spec.Revision}\n{spec.Name}\n{spec.Split}\n{string.Join('\n', spec.DataFiles)}";
        if (!resolved.TryGetValue(key, out var files)) resolved[key] = files = Resolve(spec);
        return files;
    }

    /// <summary>True when lora.lock.json pins the entry's dataset and the HF cache holds every file it locks (check then reads its rows).</summary>
    public bool InCache(DatasetSpec spec) =>
        spec.IsHub && pins?.Find(spec.Path, spec.Revision ?? HubReference.DefaultRevision) is { } entry
        && entry.Files.Keys.All(f => File.Exists(client.Cache.SnapshotFile(new RepoId(RepoType.Dataset, spec.Path), entry.Commit, f)));

    /// <summary>What a run would fetch, and whether the lock and cache already hold it; never calls the Hub.</summary>
    public string? WouldFetch(DatasetSpec spec)
    {
        if (!spec.IsHub) return null;
        var revision = spec.Revision ?? HubReference.DefaultRevision;
        var what = $"dataset {spec.Path}{(spec.Name is null ? "" : $" ({spec.Name})")} split {spec.Split ?? "train"}{(revision == HubReference.DefaultRevision ? "" : $" at {revision}")}";
        var repo = new RepoId(RepoType.Dataset, spec.Path);
        if (pins?.Find(spec.Path, revision) is { } entry)
        {
            var cached = entry.Files.Keys.All(f => File.Exists(client.Cache.SnapshotFile(repo, entry.Commit, f)));
            return $"{what}: locked at {entry.Commit[..12]} ({entry.Files.Count} files{(cached ? ", all in the HF cache: no download" : "")})";
        }
        var commit = client.Cache.TryResolveRevision(repo, revision);
        return $"{what}: its data files (Parquet / JSONL / JSON / CSV, else the {HubDatasetLayout.ConvertedBranch} branch)" +
            (commit is null ? "" : $"; the HF cache has {revision} at {commit[..12]}");
    }

    IReadOnlyList<string> Resolve(DatasetSpec spec)
    {
        var repo = new RepoId(RepoType.Dataset, spec.Path);
        var revision = spec.Revision ?? HubReference.DefaultRevision;
        var split = DatasetSplit.Parse(spec.Split)?.Name ?? "train";

        // 1. The locked commit: the lock's file list chooses, the cache serves.
        if (pins?.Find(spec.Path, revision) is { } entry)
        {
            if (pins.Locked) CheckNotMoved(repo, entry);
            IReadOnlyList<string>? chosen = null;
            try
            {
                var listing = entry.Files.Keys.ToList();
                chosen = entry.Revision == HubDatasetLayout.ConvertedBranch
                    ? HubDatasetLayout.SelectConverted(listing, spec, split)
                    : HubDatasetLayout.Select(listing, CardConfigs(repo, entry.Commit, listing, spec), spec, split);
            }
            catch (LoraBuildException e) when (e.Code is ErrorCodes.HubDatasetSplitMissing or ErrorCodes.HubDatasetConfigMissing or ErrorCodes.HubDatasetNoDataFiles)
            {
                if (pins.Locked) throw pins.LacksFiles(spec.Path, e.Message);
            }
            if (chosen is { Count: > 0 })
            {
                var paths = Download(repo, entry.Commit, chosen);
                foreach (var (path, file) in chosen.Zip(paths))
                {
                    var locked = entry.Files[path];
                    var found = Sha256Of(file);
                    if (found != locked.Sha256) throw pins.Changed(spec.Path, path, entry.Commit, found, locked.Sha256);
                }
                Report(spec, entry.Commit, chosen.Count, "locked");
                return paths;
            }
            if (pins.Locked) throw pins.LacksFiles(spec.Path, "no files for this entry");
        }
        else if (pins?.Locked == true) throw pins.NotLocked(spec.Path, revision);

        // 2. The revision on the Hub (or in the cache offline): its own data files, else the parquet conversion.
        var (commit, files) = Listing(repo, revision);
        var pinnedRevision = revision;
        var names = files.Select(f => f.Path).ToList();
        var selected = HubDatasetLayout.Select(names, CardConfigs(repo, commit, names, spec), spec, split);
        if (selected.Count == 0)
        {
            if (revision != HubReference.DefaultRevision || spec.DataFiles.Count > 0)
                throw NoDataFiles(spec, $"at '{revision}'");
            try
            {
                (commit, files) = Listing(repo, HubDatasetLayout.ConvertedBranch);
            }
            catch (HubException e) when (e.Code is ErrorCodes.HubRevisionNotFound or ErrorCodes.HubOfflineNotCached)
            {
                throw NoDataFiles(spec, $"and it has no {HubDatasetLayout.ConvertedBranch} branch");
            }
            pinnedRevision = HubDatasetLayout.ConvertedBranch;
            selected = HubDatasetLayout.SelectConverted(files.Select(f => f.Path).ToList(), spec, split);
        }
        var localFiles = Download(repo, commit, selected);
        if (pins is not null)
        {
            var read = new List<(string Path, string Sha256, long Size)>();
            foreach (var path in pinnedRevision == HubDatasetLayout.ConvertedBranch || spec.DataFiles.Count > 0 || !names.Contains(Card) ? selected : selected.Append(Card))
            {
                var file = files.First(f => f.Path == path);
                read.Add((path, file.Sha256 ?? Sha256Of(client.Cache.SnapshotFile(repo, commit, path)), file.Size));
            }
            pins.Record(spec.Path, pinnedRevision, commit, read);
        }
        Report(spec, commit, selected.Count, pinnedRevision == revision ? revision : pinnedRevision);
        return localFiles;
    }

    /// <summary>The commit and files of a revision: from the Hub, or (HF_HUB_OFFLINE) from the cache.</summary>
    (string Commit, IReadOnlyList<HubFile> Files) Listing(RepoId repo, string revision)
    {
        if (client.Settings.Offline)
        {
            var cached = client.FromCache(repo, revision, _ => true)
                ?? throw new HubException(ErrorCodes.HubOfflineNotCached,
                    $"HF_HUB_OFFLINE is set and the HF cache ({client.Cache.Root}) has no snapshot of {repo} at '{revision}'. Run once with the network, or fill the cache with `hf download {repo.Id} --repo-type dataset --revision {revision}`.");
            return (cached.Commit, cached.Files);
        }
        var commit = client.ResolveCommitAsync(repo, revision).GetAwaiter().GetResult();
        return (commit, client.ListFilesAsync(repo, commit).GetAwaiter().GetResult());
    }

    /// <summary>The README.md configs: of the repository at a commit (downloaded; small), or none.</summary>
    IReadOnlyList<DatasetCardConfig> CardConfigs(RepoId repo, string commit, IReadOnlyList<string> listing, DatasetSpec spec)
    {
        if (spec.DataFiles.Count > 0 || !listing.Contains(Card)) return [];
        var readme = client.DownloadFileAsync(repo, commit, Card).GetAwaiter().GetResult();
        return DatasetCardConfigs.Read(readme, $"dataset {spec.Path}");
    }

    IReadOnlyList<string> Download(RepoId repo, string commit, IReadOnlyList<string> paths) =>
        paths.Select(p => client.DownloadFileAsync(repo, commit, p, progress).GetAwaiter().GetResult()).ToList();

    void CheckNotMoved(RepoId repo, LoraLockFile.LockedRepo entry)
    {
        if (client.Settings.Offline || HubReference.IsCommitHash(entry.Revision)) return;
        string now;
        try
        {
            now = client.ResolveCommitAsync(repo, entry.Revision).GetAwaiter().GetResult();
        }
        catch (HubException e) when (e.Code == ErrorCodes.HubUnreachable)
        {
            WorkerEventWriter.Console.Status(WorkerPhases.Download, $"{repo}: the Hub is unreachable; trusting {LoraLockFile.FileName} ({entry.Commit[..12]}).");
            return;
        }
        if (now != entry.Commit) throw pins!.Moved(repo.Id, entry.Revision, entry.Commit, now);
    }

    /// <summary>A cached file's sha256: its blob's name for an LFS file (checked when it was downloaded), else its content's.</summary>
    static string Sha256Of(string snapshotFile)
    {
        if (HubCache.LinkedEtag(snapshotFile) is { Length: 64 } etag && etag.All(char.IsAsciiHexDigitLower)) return etag;
        using var stream = File.OpenRead(snapshotFile);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static void Report(DatasetSpec spec, string commit, int files, string revision) =>
        WorkerEventWriter.Console.Result(WorkerPhases.Download, $"dataset {spec.Path}{(spec.Name is null ? "" : $" ({spec.Name})")} split {spec.Split ?? "train"}: {files} file(s) at {revision} = {commit[..12]}");

    static LoraBuildException NoDataFiles(DatasetSpec spec, string where) =>
        new(ErrorCodes.HubDatasetNoDataFiles,
            $"dataset {spec.Path}: the repository has no data file LoraBuild reads ({string.Join(", ", LoraBuild.Hub.Datasets.DataFilePatterns.DataExtensions)}) {where}. " +
            "A dataset with a loading script is not read here: use its Parquet conversion, or download it and give a local path.", spec.Source, spec.Line, column: spec.Column);
}
