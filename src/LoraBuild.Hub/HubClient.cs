using System.Net;
using System.Security.Cryptography;
using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// Downloads from the Hugging Face Hub into its cache, as huggingface_hub's hf_hub_download and snapshot_download do,
/// and finds what is already there without the network (HF_HUB_OFFLINE, or a commit the cache holds whole).
/// </summary>
public sealed class HubClient : IDisposable
{
    readonly HubHttp http;
    readonly HubApi api;
    readonly BlobDownloader downloader;

    public HubClient(HubSettings settings, HttpMessageHandler? handler = null)
    {
        Settings = settings;
        Cache = new HubCache(settings.CacheDir);
        http = new HubHttp(settings, handler);
        api = new HubApi(http, settings);
        downloader = new BlobDownloader(http, settings);
    }

    public HubSettings Settings { get; }

    public HubCache Cache { get; }

    /// <summary>The commit a branch, tag or commit names now, from the Hub (and recorded in refs/).</summary>
    public async Task<string> ResolveCommitAsync(RepoId repo, string revision, CancellationToken cancel = default)
    {
        ThrowIfOffline(repo, revision);
        var commit = await api.ResolveCommitAsync(repo, revision, cancel);
        Cache.WriteRef(repo, revision, commit);
        return commit;
    }

    /// <summary>Every file of the repo at a commit, with sizes and, for LFS files, sha256.</summary>
    public Task<IReadOnlyList<HubFile>> ListFilesAsync(RepoId repo, string commit, CancellationToken cancel = default)
    {
        ThrowIfOffline(repo, commit);
        return api.ListFilesAsync(repo, commit, cancel);
    }

    /// <summary>HEAD /{id}/resolve/{revision}/{path}: commit, etag and size from the Hub's headers, and the URL of the bytes (a CDN's, after a 302).</summary>
    public async Task<HubFileMetadata> GetFileMetadataAsync(RepoId repo, string revision, string path, CancellationToken cancel = default)
    {
        ThrowIfOffline(repo, revision);
        var url = http.Url($"{repo.Type.ResolvePrefix()}{repo.Id}/resolve/{Uri.EscapeDataString(revision)}/{EscapePath(path)}");
        using var response = await http.SendAsync(u =>
        {
            var request = new HttpRequestMessage(HttpMethod.Head, u);
            request.Headers.AcceptEncoding.ParseAdd("identity");
            return request;
        }, url, RedirectMode.Relative, cancel);
        var status = (int)response.StatusCode;
        if (status >= 400) throw HubErrors.FromResponse(response, Settings.Endpoint, repo, revision, path);
        var commit = Header(response, "X-Repo-Commit");
        var etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.Tag ?? Header(response, "ETag"));
        var sizeText = Header(response, "X-Linked-Size") ?? response.Content.Headers.ContentLength?.ToString();
        if (commit is null || etag is null || !long.TryParse(sizeText, out var size))
            throw new HubException(ErrorCodes.HubProtocol,
                $"{repo}/{path}: the Hub's answer lacks X-Repo-Commit, ETag or size; is HF_ENDPOINT ({Settings.Endpoint}) a Hugging Face Hub?");
        var location = status is >= 300 and < 400 && response.Headers.Location is { } l ? (l.IsAbsoluteUri ? l : new Uri(url, l)) : url;
        return new HubFileMetadata(commit, etag, size, location);
    }

    /// <summary>
    /// hf_hub_download: one file at a revision into the cache; returns its path in snapshots/{commit}/. Offline, the
    /// cached copy is returned (LB0405 when there is none).
    /// </summary>
    public async Task<string> DownloadFileAsync(RepoId repo, string revision, string path, Action<HubProgress>? progress = null, CancellationToken cancel = default)
    {
        if (Settings.Offline)
        {
            var cached = Cache.TryResolveRevision(repo, revision) is { } c ? Cache.SnapshotFile(repo, c, path) : null;
            return cached is not null && File.Exists(cached) ? cached : throw NotCached(repo, revision, path);
        }
        if (HubReference.IsCommitHash(revision) && Cache.SnapshotFile(repo, revision, path) is var known && File.Exists(known)) return known;
        var meta = await GetFileMetadataAsync(repo, revision, path, cancel);
        Cache.WriteRef(repo, revision, meta.Commit);
        return await FetchIntoSnapshotAsync(repo, path, meta, progress, cancel);
    }

    /// <summary>
    /// snapshot_download restricted to the files <paramref name="allow"/> accepts: the revision's commit, its file list,
    /// and each file not already in the cache. Offline (or a commit whose snapshot holds every allowed file), the cache alone.
    /// </summary>
    public async Task<HubSnapshot> DownloadSnapshotAsync(RepoId repo, string revision, Func<string, bool> allow,
        Action<HubProgress>? progress = null, CancellationToken cancel = default)
    {
        if (Settings.Offline) return FromCache(repo, revision, allow) ?? throw NotCached(repo, revision, null);
        var commit = await ResolveCommitAsync(repo, revision, cancel);
        var files = (await api.ListFilesAsync(repo, commit, cancel)).Where(f => allow(f.Path)).ToList();
        foreach (var file in files)
        {
            var snapshotFile = Cache.SnapshotFile(repo, commit, file.Path);
            if (File.Exists(snapshotFile)) continue;
            var meta = await GetFileMetadataAsync(repo, commit, file.Path, cancel);
            await FetchIntoSnapshotAsync(repo, file.Path, meta, progress, cancel);
        }
        return new HubSnapshot(repo, revision, commit, Cache.SnapshotFolder(repo, commit), files);
    }

    /// <summary>The cached snapshot a revision names (its allowed files, hashes from the blob names), or null when the cache does not know the revision.</summary>
    public HubSnapshot? FromCache(RepoId repo, string revision, Func<string, bool> allow)
    {
        if (Cache.TryResolveRevision(repo, revision) is not { } commit) return null;
        var files = new List<HubFile>();
        foreach (var path in Cache.ListSnapshot(repo, commit).Where(allow))
        {
            var full = Cache.SnapshotFile(repo, commit, path);
            // A copy instead of a link (no symlinks where it was written): hash the file itself.
            var linked = HubCache.LinkedEtag(full);
            var etag = linked ?? Sha256Of(full);
            // FileInfo of a symlink measures the link itself: the size is the blob's.
            var size = new FileInfo(linked is null ? full : Cache.BlobPath(repo, linked)).Length;
            files.Add(new HubFile(path, etag, size, BlobDownloader.IsSha256(etag) ? etag : null));
        }
        return new HubSnapshot(repo, revision, commit, Cache.SnapshotFolder(repo, commit), files);
    }

    async Task<string> FetchIntoSnapshotAsync(RepoId repo, string path, HubFileMetadata meta, Action<HubProgress>? progress, CancellationToken cancel)
    {
        var blob = Cache.BlobPath(repo, meta.Etag);
        if (!File.Exists(blob))
        {
            using var held = await BlobLock.AcquireAsync(Cache.LockPath(repo, meta.Etag), cancel);
            // Another build may have finished this blob while we waited for its lock.
            if (!File.Exists(blob))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
                try
                {
                    await downloader.DownloadAsync(repo, path, meta, Cache.IncompletePath(repo, meta.Etag), blob, progress, cancel);
                }
                catch (IOException e) when (e is not HttpIOException)
                {
                    throw new HubException(ErrorCodes.HubCacheWriteFailed, $"Could not write {blob} ({e.Message}). Check free space and permissions of the HF cache ({Cache.Root}; HF_HUB_CACHE or HF_HOME move it).", e);
                }
            }
        }
        return Cache.LinkIntoSnapshot(repo, meta.Commit, path, meta.Etag);
    }

    void ThrowIfOffline(RepoId repo, string revision)
    {
        if (Settings.Offline) throw NotCached(repo, revision, null);
    }

    HubException NotCached(RepoId repo, string revision, string? path) => new(ErrorCodes.HubOfflineNotCached,
        $"HF_HUB_OFFLINE is set and the HF cache ({Cache.Root}) has no {(path is null ? "snapshot" : $"'{path}'")} of {repo} at '{revision}'. Build once with the network (unset HF_HUB_OFFLINE) or fill the cache with `hf download {repo.Id} --revision {revision}`.");

    static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() :
        response.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;

    /// <summary>huggingface_hub's etag normalisation: drop a weak "W/" prefix and the quotes.</summary>
    static string? NormalizeEtag(string? etag) => etag is null ? null : (etag.StartsWith("W/") ? etag[2..] : etag).Trim('"');

    static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    public void Dispose() => http.Dispose();
}
