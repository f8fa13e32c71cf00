using System.Security.Cryptography;
using System.Text;

namespace LoraBuild.HubEmulator;

/// <summary>A file of an emulated commit: its bytes on disk, git blob sha1, and (LFS files) sha256.</summary>
public sealed record EmulatedFile(string Path, string Source, long Size, string GitOid, string? Sha256)
{
    public bool IsLfs => Sha256 is not null;

    /// <summary>The etag the Hub gives: the sha256 for LFS files, the git blob id otherwise.</summary>
    public string Etag => Sha256 ?? GitOid;

    /// <summary>As on the Hub (.gitattributes): weights, archives and data files, and anything from 10 MiB, live in LFS.</summary>
    public static EmulatedFile FromDisk(string path, string source)
    {
        var size = new FileInfo(source).Length;
        var lfs = size >= 10 << 20 || new[] { ".safetensors", ".bin", ".parquet", ".pth", ".gguf", ".onnx", ".model" }
            .Any(e => path.EndsWith(e, StringComparison.Ordinal));
        return new EmulatedFile(path, source, size, GitBlobId(source, size), lfs ? Sha256Of(source) : null);
    }

    static string GitBlobId(string source, long size)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {size}\0"));
        using var stream = File.OpenRead(source);
        var buffer = new byte[1 << 20];
        for (int read; (read = stream.Read(buffer)) > 0;) sha1.AppendData(buffer, 0, read);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    static string Sha256Of(string source)
    {
        using var stream = File.OpenRead(source);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>One commit: its id and files.</summary>
public sealed record EmulatedCommit(string Sha, IReadOnlyList<EmulatedFile> Files, DateTimeOffset Date)
{
    public EmulatedFile? Find(string path) => Files.FirstOrDefault(f => f.Path == path);
}

/// <summary>A model or dataset repo: commits, branches and tags (refs that tests can move), and access rules.</summary>
public sealed class EmulatedRepo(string type, string id)
{
    public string Type { get; } = type;
    public string Id { get; } = id;
    public Dictionary<string, EmulatedCommit> Commits { get; } = [];
    public Dictionary<string, string> Refs { get; } = [];

    /// <summary>Gated: no token is 401, a token not in <see cref="AllowedTokens"/> is 403 (X-Error-Code: GatedRepo).</summary>
    public bool Gated { get; set; }
    public HashSet<string> AllowedTokens { get; } = [];

    public EmulatedCommit? Resolve(string revision) =>
        Refs.TryGetValue(revision, out var sha) ? Commits[sha] : Commits.GetValueOrDefault(revision);

    public EmulatedCommit? FindByEtag(string etag) => Commits.Values.FirstOrDefault(c => c.Files.Any(f => f.Etag == etag));

    /// <summary>A new commit holding the folder's files (recursively), and the branch moved to it.</summary>
    public EmulatedCommit Push(string folder, string branch)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => EmulatedFile.FromDisk(System.IO.Path.GetRelativePath(folder, f).Replace('\\', '/'), f))
            .OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
        var parent = Refs.GetValueOrDefault(branch) ?? "";
        var text = $"{Type}/{Id}\n{parent}\n{Commits.Count}\n" + string.Join("\n", files.Select(f => $"{f.Path} {f.GitOid}"));
        var sha = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
        var commit = new EmulatedCommit(sha, files, DateTimeOffset.UtcNow);
        Commits[sha] = commit;
        Refs[branch] = sha;
        return commit;
    }
}
