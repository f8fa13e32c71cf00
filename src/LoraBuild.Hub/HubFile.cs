namespace LoraBuild.Hub;

/// <summary>
/// One file of a repo at a commit. <see cref="Etag"/> names its blob in the cache: the sha256 of an LFS file (then also
/// <see cref="Sha256"/>), or the git blob sha1 of a small file.
/// </summary>
public sealed record HubFile(string Path, string Etag, long Size, string? Sha256);

/// <summary>A repo's files at one commit, as found in (or downloaded into) the cache; <see cref="Folder"/> is snapshots/{commit}.</summary>
public sealed record HubSnapshot(RepoId Repo, string Revision, string Commit, string Folder, IReadOnlyList<HubFile> Files);

/// <summary>What a file's HEAD on /resolve/ says: the commit the revision is at, its etag, size, and where its bytes are.</summary>
public sealed record HubFileMetadata(string Commit, string Etag, long Size, Uri Location);

/// <summary>Download progress of one file (bytes), for the worker's "download" progress events.</summary>
public sealed record HubProgress(string File, long Bytes, long? Total, double BytesPerSecond, double? EtaSeconds);
