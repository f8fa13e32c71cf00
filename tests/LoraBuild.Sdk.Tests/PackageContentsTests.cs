using System.IO.Compression;

namespace LoraBuild.Sdk.Tests;

public class PackageContentsTests
{
    // What NuGet writes into every package by itself; not the SDK's content.
    static readonly string[] PackagingFiles = ["[Content_Types].xml", "_rels/.rels", "LoraBuild.Sdk.nuspec"];

    [Fact]
    public void Sdk_package_holds_exactly_the_pinned_files_each_once()
    {
        var feed = SdkFeed.Instance;
        var package = Path.Combine(feed.Directory, $"LoraBuild.Sdk.{feed.Version}.nupkg");
        using var zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName)
            .Where(n => !PackagingFiles.Contains(n) && !n.StartsWith("package/services/", StringComparison.Ordinal))
            .ToList();

        Assert.Equal(entries.Count, entries.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        // The worker ships once: one deps file, one native library, one main assembly in the whole package.
        Assert.Single(entries, n => n.EndsWith("/lorabuild.deps.json", StringComparison.Ordinal));
        Assert.Single(entries, n => n.EndsWith("/libLibTorchSharp.so", StringComparison.Ordinal));
        Assert.Single(entries, n => n.EndsWith("/lorabuild.dll", StringComparison.Ordinal));
        // libtorch is resolved at run time, never carried by the SDK.
        Assert.DoesNotContain(entries, n => Path.GetFileName(n) is "libtorch.so" or "libtorch_cpu.so" or "libc10.so");

        var pinned = File.ReadAllLines(Path.Combine(feed.RepoRoot, "tests", "LoraBuild.Sdk.Tests", "sdk-package-files.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'));
        Assert.Equal(pinned.Order(StringComparer.Ordinal), entries.Order(StringComparer.Ordinal));
    }
}
