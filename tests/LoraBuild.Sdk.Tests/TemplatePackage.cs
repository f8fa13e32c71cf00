namespace LoraBuild.Sdk.Tests;

/// <summary>
/// LoraBuild.Templates packed from templates/ and installed into a dotnet new home of its own (--debug:custom-hive), so
/// the user's installed templates are neither used nor changed. Delete <see cref="Home"/> when done.
/// </summary>
public sealed class TemplatePackage
{
    /// <param name="version">The package version; null: the repository's (Directory.Build.props), what users get.</param>
    public TemplatePackage(string? version, string feed)
    {
        RepoRoot = FindRepoRoot();
        Home = Path.Combine(Path.GetTempPath(), "lorabuild-template-home", Guid.NewGuid().ToString("N")[..10]);
        string[] versionArgument = version is null ? [] : [$"-p:Version={version}"];
        var pack = DotNet.Run(RepoRoot, new Dictionary<string, string?>(), ["pack", Path.Combine(RepoRoot, "templates", "LoraBuild.Templates"),
            "-c", "Release", .. versionArgument, "-o", feed]);
        if (pack.ExitCode != 0) throw new InvalidOperationException("packing the templates failed:\n" + pack.Output);
        var package = Directory.GetFiles(feed, version is null ? "LoraBuild.Templates.*.nupkg" : $"LoraBuild.Templates.{version}.nupkg").Single();
        var install = New(Path.GetTempPath(), "install", package);
        if (install.ExitCode != 0) throw new InvalidOperationException("installing the templates failed:\n" + install.Output);
    }

    public string RepoRoot { get; }
    public string Home { get; }

    /// <summary>dotnet new ARGS in <paramref name="directory"/>, against this package's home.</summary>
    public DotNet.Result New(string directory, params string[] args) =>
        DotNet.Run(directory, new Dictionary<string, string?>(), ["new", .. args, "--debug:custom-hive", Home]);

    static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "LoraBuild.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("LoraBuild.sln not found");
    }
}
