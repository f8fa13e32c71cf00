namespace LoraBuild.IO;

/// <summary>The per-user cache LoraBuild owns (compatibility copies of native libraries, file hashes).</summary>
public static class CachePaths
{
    /// <summary>$LORABUILD_CACHE_DIR, else $XDG_CACHE_HOME/lorabuild, else ~/.cache/lorabuild.</summary>
    public static string Root()
    {
        var custom = Environment.GetEnvironmentVariable("LORABUILD_CACHE_DIR");
        if (!string.IsNullOrEmpty(custom)) return custom!;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
            : xdg!;
        return Path.Combine(baseDir, "lorabuild");
    }
}
