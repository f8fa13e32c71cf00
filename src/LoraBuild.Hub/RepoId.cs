using System.Text.RegularExpressions;

namespace LoraBuild.Hub;

/// <summary>A Hub repository: its type and its id ("org/name", or a legacy single "name").</summary>
public sealed partial record RepoId(RepoType Type, string Id)
{
    /// <summary>The repo's folder in the cache: models--org--name.</summary>
    public string CacheFolderName => Type.CachePrefix() + "--" + Id.Replace("/", "--");

    public override string ToString() => Type == RepoType.Model ? Id : $"{Type.ApiSegment()}/{Id}";

    /// <summary>The Hub's own rule for names: letters, digits, '-', '_', '.'; no "--" or ".." and no leading/trailing '-' or '.'.</summary>
    public static bool IsValidId(string id)
    {
        var parts = id.Split('/');
        if (parts.Length is < 1 or > 2) return false;
        foreach (var part in parts)
            if (!NamePart().IsMatch(part) || part.Contains("--") || part.Contains("..") || part.Length > 96) return false;
        return true;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?$")]
    private static partial Regex NamePart();
}
