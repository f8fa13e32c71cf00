using System.Text.Json;
using NuGet.Common;
using NuGet.Packaging;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;

namespace LoraBuild.Tasks;

/// <summary>
/// The evaluation metrics an adapter had in the newest published version of this package below the one being built:
/// looked up in the push and cache feeds (folders or NuGet servers), read from lora/&lt;name&gt;/metrics.json in the nupkg.
/// </summary>
public static class PreviousVersionMetrics
{
    public sealed record Found(string Feed, NuGetVersion Version, IReadOnlyDictionary<string, double> Eval);

    /// <summary>Null when no feed holds an earlier version; throws IOException-family errors when a feed cannot be read.</summary>
    public static Found? Find(IEnumerable<string> feeds, string packageId, string currentVersion, string adapter)
    {
        var current = NuGetVersion.Parse(currentVersion);
        using var cache = new SourceCacheContext { NoCache = true };
        (string Feed, FindPackageByIdResource Finder, NuGetVersion Version)? newest = null;
        foreach (var feed in feeds.Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => f.Trim()).Distinct())
        {
            if (!feed.Contains("://", StringComparison.Ordinal) && !Directory.Exists(feed)) continue;
            var finder = Repository.Factory.GetCoreV3(feed).GetResource<FindPackageByIdResource>() ?? throw new IOException($"'{feed}' offers no package lookup");
            var below = finder.GetAllVersionsAsync(packageId, cache, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult()
                .Where(v => v < current).DefaultIfEmpty().Max();
            if (below is not null && (newest is null || below > newest.Value.Version)) newest = (feed, finder, below);
        }
        if (newest is not { } hit) return null;

        using var stream = new MemoryStream();
        if (!hit.Finder.CopyNupkgToStreamAsync(packageId, hit.Version, stream, cache, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult())
            throw new IOException($"{packageId} {hit.Version} is listed in '{hit.Feed}' but could not be downloaded");
        stream.Position = 0;
        using var package = new PackageArchiveReader(stream);
        var entry = package.GetFiles().FirstOrDefault(f => f == RunLayout.PackageFolder(adapter) + RunLayout.MetricsFile);
        if (entry is null) return new Found(hit.Feed, hit.Version, new Dictionary<string, double>());
        using var document = JsonDocument.Parse(package.GetStream(entry));
        var eval = new Dictionary<string, double>();
        if (document.RootElement.TryGetProperty("eval", out var e) && e.ValueKind == JsonValueKind.Object)
            foreach (var property in e.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number))
                eval[property.Name] = property.Value.GetDouble();
        return new Found(hit.Feed, hit.Version, eval);
    }
}
