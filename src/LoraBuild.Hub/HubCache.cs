using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// huggingface_hub's cache layout, exactly (file_download.py): per repo a folder models--org--name holding
/// blobs/{etag} (the content, named by its git or LFS hash), refs/{revision} (the commit a branch or tag pointed at when
/// last seen) and snapshots/{commit}/{path} (relative symlinks into blobs); downloads in progress are
/// blobs/{etag}.incomplete, guarded by .locks/models--org--name/{etag}.lock.
/// </summary>
public sealed class HubCache(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string RepoFolder(RepoId repo) => Path.Combine(Root, repo.CacheFolderName);

    public string BlobPath(RepoId repo, string etag) => Path.Combine(RepoFolder(repo), "blobs", etag);

    public string IncompletePath(RepoId repo, string etag) => BlobPath(repo, etag) + ".incomplete";

    public string LockPath(RepoId repo, string etag) => Path.Combine(Root, ".locks", repo.CacheFolderName, etag + ".lock");

    public string SnapshotFolder(RepoId repo, string commit) => Path.Combine(RepoFolder(repo), "snapshots", commit);

    public string SnapshotFile(RepoId repo, string commit, string path) => Path.Combine(SnapshotFolder(repo, commit), CheckRelative(path));

    string RefPath(RepoId repo, string revision) => Path.Combine(RepoFolder(repo), "refs", CheckRelative(revision));

    /// <summary>The commit a revision names in the cache: itself when it is a commit with a snapshot, else refs/{revision}.</summary>
    public string? TryResolveRevision(RepoId repo, string revision)
    {
        if (HubReference.IsCommitHash(revision)) return Directory.Exists(SnapshotFolder(repo, revision)) ? revision : null;
        var refPath = RefPath(repo, revision);
        if (!File.Exists(refPath)) return null;
        var commit = File.ReadAllText(refPath).Trim();
        return HubReference.IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Records that a branch or tag points at a commit (not written for a revision that is the commit itself).</summary>
    public void WriteRef(RepoId repo, string revision, string commit)
    {
        if (revision == commit) return;
        var refPath = RefPath(repo, revision);
        if (File.Exists(refPath) && File.ReadAllText(refPath).Trim() == commit) return;
        IO.AtomicFile.WriteAllText(refPath, commit);
    }

    /// <summary>Points snapshots/{commit}/{path} at blobs/{etag} with a relative symlink (as huggingface_hub and huggingface.js do).</summary>
    public string LinkIntoSnapshot(RepoId repo, string commit, string path, string etag)
    {
        var link = SnapshotFile(repo, commit, path);
        var blob = BlobPath(repo, etag);
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        // Cache scanners (huggingface.js scanCacheDir) expect refs/ in every repo folder, even one fetched by commit only.
        Directory.CreateDirectory(Path.Combine(RepoFolder(repo), "refs"));
        var target = Path.GetRelativePath(Path.GetDirectoryName(link)!, blob);
        var temp = link + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.CreateSymbolicLink(temp, target);
        }
        catch (IOException)
        {
            // No symlinks on this file system: huggingface_hub then copies the blob into the snapshot.
            File.Copy(blob, temp, overwrite: true);
        }
        catch (UnauthorizedAccessException)
        {
            File.Copy(blob, temp, overwrite: true);
        }
        File.Move(temp, link, overwrite: true);
        return link;
    }

    /// <summary>The blob a snapshot file points at, or null when it is a plain copy or a dangling link.</summary>
    public static string? LinkedEtag(string snapshotFile)
    {
        var info = new FileInfo(snapshotFile);
        if (info.LinkTarget is not { } target) return null;
        return File.Exists(snapshotFile) ? Path.GetFileName(target) : null;
    }

    /// <summary>A snapshot file that exists and whose link, if any, reaches its blob.</summary>
    public static bool SnapshotFileReady(string snapshotFile) => File.Exists(snapshotFile);

    /// <summary>Every file of a cached snapshot, relative with '/' (dangling links and temp files left out).</summary>
    public IReadOnlyList<string> ListSnapshot(RepoId repo, string commit)
    {
        var folder = SnapshotFolder(repo, commit);
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => File.Exists(f) && !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A repo-relative path must stay inside its snapshot (the Hub never sends "..", a hostile server might).</summary>
    static string CheckRelative(string path)
    {
        if (path.Length == 0 || Path.IsPathRooted(path) || path.Split('/', '\\').Any(p => p is ".." or "."))
            throw new HubException(ErrorCodes.HubProtocol, $"The Hub named a file outside the repository: '{path}'.");
        return path.Replace('/', Path.DirectorySeparatorChar);
    }
}
