namespace LoraBuild.Hub;

/// <summary>
/// What a user writes to name a Hub repository at a revision: "org/name" or "org/name@rev" (branch, tag or commit;
/// default main). A string that names an existing folder, or looks like a path, is not a Hub reference.
/// </summary>
public sealed record HubReference(RepoId Repo, string Revision)
{
    public const string DefaultRevision = "main";

    public override string ToString() => Revision == DefaultRevision ? Repo.Id : $"{Repo.Id}@{Revision}";

    /// <summary>Parses "org/name[@rev]"; null when the text is a local path (exists, is rooted, starts with '.' or '~', or has a backslash).</summary>
    public static HubReference? TryParse(string text, RepoType type = RepoType.Model, string? revision = null)
    {
        if (string.IsNullOrWhiteSpace(text) || Directory.Exists(text) || File.Exists(text)) return null;
        if (Path.IsPathRooted(text) || text.StartsWith('.') || text.StartsWith('~') || text.Contains('\\')) return null;
        var at = text.IndexOf('@');
        var id = at < 0 ? text : text[..at];
        var rev = at < 0 ? null : text[(at + 1)..];
        // A Hub id has exactly one '/' (org/name); a bare word or a deeper path is a folder that does not exist yet.
        if (id.Count(c => c == '/') != 1 || !RepoId.IsValidId(id)) return null;
        if (rev is not null && (rev.Length == 0 || rev.Contains("..") || rev.Any(char.IsWhiteSpace))) return null;
        return new HubReference(new RepoId(type, id), rev ?? (string.IsNullOrEmpty(revision) ? DefaultRevision : revision));
    }

    /// <summary>True when the revision is a full commit hash (40 hex digits), which never moves.</summary>
    public static bool IsCommitHash(string revision) =>
        revision.Length == 40 && revision.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
