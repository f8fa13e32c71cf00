using LoraBuild.Diagnostics;
using LoraBuild.Events;
using LoraBuild.Hub;

namespace LoraBuild.Cli.Hub;

/// <summary>
/// Resolves Hub base models against lora.lock.json, as NuGet restores against packages.lock.json: a locked id at the
/// same revision uses its commit (from the cache, no network, when the cache holds it); a new id or revision is
/// resolved and added; <see cref="Update"/> re-resolves every one; <see cref="Locked"/> (CI) changes nothing and fails
/// when the lock is missing, lacks the model, or the revision now points elsewhere (LB0420, LB0421).
/// </summary>
public sealed class BaseModelLock(HubClient client, string lockPath, bool locked, bool update)
{
    public bool Locked => locked;
    public bool Update => update;
    public string Path => lockPath;

    /// <summary>The lock being read and written; the datasets section is kept by DatasetLock over this same object.</summary>
    public LoraLockFile LockFile => lockFile;

    readonly LoraLockFile lockFile = LoraLockFile.TryRead(lockPath) ?? new LoraLockFile();
    readonly bool existed = File.Exists(lockPath);

    public HubSnapshot Resolve(HubReference reference)
    {
        var id = reference.Repo.Id;
        lockFile.Models.TryGetValue(id, out var entry);
        if (entry is not null && entry.Revision == reference.Revision && !update)
        {
            if (locked && !client.Settings.Offline) CheckNotMoved(reference, entry);
            var snapshot = client.FromCache(reference.Repo, entry.Commit, ModelFiles.IsWanted);
            if (snapshot is null || entry.Files.Keys.Any(f => snapshot.Files.All(s => s.Path != f)))
                snapshot = HubModels.Download(client, reference.Repo, entry.Commit);
            CheckWeights(reference, entry, snapshot);
            return snapshot with { Revision = reference.Revision };
        }
        if (locked)
            throw new HubException(entry is null ? ErrorCodes.LockFileMissing : ErrorCodes.LockFileOutOfDate,
                entry is null
                    ? $"Locked mode (LoraBuildLockedMode): {(existed ? $"{LoraLockFile.FileName} has no entry for {id}" : $"there is no {LoraLockFile.FileName}")}. Build once with -p:LoraBuildUpdateLock=true (or without locked mode) and commit {LoraLockFile.FileName}."
                    : $"Locked mode (LoraBuildLockedMode): the project asks for {id} at '{reference.Revision}' but {LoraLockFile.FileName} locks '{entry.Revision}'. Build with -p:LoraBuildUpdateLock=true and commit the new lock.",
                file: lockPath);
        var resolved = HubModels.Download(client, reference.Repo, reference.Revision);
        lockFile.Models[id] = new LoraLockFile.LockedRepo(reference.Revision, resolved.Commit, WeightFiles(resolved));
        return resolved;
    }

    /// <summary>Writes the lock when it changed (never in locked mode); true when written.</summary>
    public bool Save() => !locked && lockFile.Write(lockPath);

    void CheckNotMoved(HubReference reference, LoraLockFile.LockedRepo entry)
    {
        string now;
        try
        {
            now = client.ResolveCommitAsync(reference.Repo, reference.Revision).GetAwaiter().GetResult();
        }
        catch (HubException e) when (e.Code == ErrorCodes.HubUnreachable)
        {
            WorkerEventWriter.Console.Status("download", $"{reference}: the Hub is unreachable; trusting {LoraLockFile.FileName} ({entry.Commit[..12]}).");
            return;
        }
        if (now != entry.Commit)
            throw new HubException(ErrorCodes.LockFileOutOfDate,
                $"Locked mode (LoraBuildLockedMode): {reference.Repo.Id}@{reference.Revision} moved from {entry.Commit} (locked) to {now}. Build with -p:LoraBuildUpdateLock=true to take the new commit, and commit {LoraLockFile.FileName}; or pin BaseModelRevision to {entry.Commit}.",
                file: lockPath);
    }

    void CheckWeights(HubReference reference, LoraLockFile.LockedRepo entry, HubSnapshot snapshot)
    {
        foreach (var (path, locked) in entry.Files)
        {
            var file = snapshot.Files.FirstOrDefault(f => f.Path == path);
            if (file is null || file.Sha256 != locked.Sha256 || file.Size != locked.Size)
                throw new HubException(ErrorCodes.LockFileOutOfDate,
                    $"{reference.Repo.Id}/{path} at {entry.Commit} has sha256 {file?.Sha256 ?? "(missing)"} but {LoraLockFile.FileName} records {locked.Sha256}. The lock was edited or the cache is damaged: delete the snapshot from the HF cache, or build with -p:LoraBuildUpdateLock=true.",
                    file: lockPath);
        }
    }

    static SortedDictionary<string, LoraLockFile.LockedFile> WeightFiles(HubSnapshot snapshot) =>
        new(snapshot.Files.Where(f => ModelFiles.IsWeights(f.Path) && f.Sha256 is not null)
            .ToDictionary(f => f.Path, f => new LoraLockFile.LockedFile(f.Sha256!, f.Size)), StringComparer.Ordinal);
}
