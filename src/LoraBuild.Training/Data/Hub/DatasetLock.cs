using LoraBuild.Diagnostics;
using LoraBuild.Hub;

namespace LoraBuild.Training.Data.Hub;

/// <summary>
/// The <c>datasets</c> section of lora.lock.json, as BaseModelLock keeps the models one: per Hub dataset id the revision
/// asked for (or refs/convert/parquet when the Hub's conversion was read), its commit, and the sha256 and size of every
/// file read (the README.md whose configs chose them included). A locked id at the same revision reuses its commit (no
/// network when the cache holds the files); <see cref="Update"/> re-resolves; <see cref="Locked"/> (CI) never changes the
/// lock and fails when an entry is missing or its branch moved (LB0420, LB0421). The caller saves the lock file.
/// </summary>
public sealed class DatasetLock(LoraLockFile lockFile, string lockPath, bool locked, bool update)
{
    public bool Locked => locked;
    public bool Update => update;
    public string Path => lockPath;

    /// <summary>The entry for an id at a revision, unless the lock is being updated.</summary>
    public LoraLockFile.LockedRepo? Find(string id, string revision)
    {
        if (update || !lockFile.Datasets.TryGetValue(id, out var entry)) return null;
        return entry.Revision == revision || (entry.Revision == HubDatasetLayout.ConvertedBranch && revision == HubReference.DefaultRevision) ? entry : null;
    }

    /// <summary>Adds the files read at a commit (to the entry when it is at that commit, else a new entry).</summary>
    public void Record(string id, string revision, string commit, IEnumerable<(string Path, string Sha256, long Size)> files)
    {
        var entry = lockFile.Datasets.TryGetValue(id, out var old) && old.Commit == commit && old.Revision == revision
            ? old
            : new LoraLockFile.LockedRepo(revision, commit, new SortedDictionary<string, LoraLockFile.LockedFile>(StringComparer.Ordinal));
        foreach (var (path, sha256, size) in files) entry.Files[path] = new LoraLockFile.LockedFile(sha256, size);
        lockFile.Datasets[id] = entry;
    }

    /// <summary>Locked mode with no entry for the dataset, or one at another revision.</summary>
    public HubException NotLocked(string id, string revision) =>
        new(lockFile.Datasets.TryGetValue(id, out var entry) ? ErrorCodes.LockFileOutOfDate : ErrorCodes.LockFileMissing,
            entry is null
                ? $"Locked mode (LoraBuildLockedMode): {LoraLockFile.FileName} has no entry for dataset {id}. Build once with -p:LoraBuildUpdateLock=true (or without locked mode) and commit {LoraLockFile.FileName}."
                : $"Locked mode (LoraBuildLockedMode): the config asks for dataset {id} at '{revision}' but {LoraLockFile.FileName} locks '{entry.Revision}'. Build with -p:LoraBuildUpdateLock=true and commit the new lock.",
            file: lockPath);

    /// <summary>Locked mode, and the entry lacks the files this dataset entry reads (another config or split).</summary>
    public HubException LacksFiles(string id, string why) =>
        new(ErrorCodes.LockFileOutOfDate,
            $"Locked mode (LoraBuildLockedMode): {LoraLockFile.FileName} locks dataset {id} but not the files this entry reads ({why}). Build with -p:LoraBuildUpdateLock=true and commit the new lock.",
            file: lockPath);

    public HubException Moved(string id, string revision, string locked, string now) =>
        new(ErrorCodes.LockFileOutOfDate,
            $"Locked mode (LoraBuildLockedMode): dataset {id}@{revision} moved from {locked} (locked) to {now}. Build with -p:LoraBuildUpdateLock=true to take the new commit and commit {LoraLockFile.FileName}; or pin revision: {locked} in the config.",
            file: lockPath);

    public HubException Changed(string id, string path, string commit, string found, string expected) =>
        new(ErrorCodes.LockFileOutOfDate,
            $"dataset {id}/{path} at {commit} has sha256 {found} but {LoraLockFile.FileName} records {expected}. The lock was edited or the cache is damaged: delete the snapshot from the HF cache, or build with -p:LoraBuildUpdateLock=true.",
            file: lockPath);
}
