namespace LoraBuild.Sdk.Tests;

/// <summary>
/// LoraBuild.Runtime (with LoraBuild.Modeling, LoraBuild.Hub and LoraBuild.Contracts) and the LoraBuild.Tool package, packed once per
/// test run into the SDK's folder feed with the same unique version.
/// </summary>
public sealed class RuntimeFeed
{
    static readonly Lazy<RuntimeFeed> Lazy = new(() => new RuntimeFeed());
    public static RuntimeFeed Instance => Lazy.Value;

    RuntimeFeed()
    {
        var sdk = SdkFeed.Instance;
        foreach (var project in new[] { "LoraBuild.Contracts", "LoraBuild.Hub", "LoraBuild.Modeling", "LoraBuild.Runtime", "LoraBuild.Cli" })
        {
            var result = DotNet.Run(sdk.RepoRoot, new Dictionary<string, string?>(), "pack", Path.Combine(sdk.RepoRoot, "src", project),
                "-c", "Release", $"-p:Version={sdk.Version}", "-o", sdk.Directory);
            if (result.ExitCode != 0) throw new InvalidOperationException($"packing {project} failed:\n" + result.Output);
        }
    }

    public string Directory => SdkFeed.Instance.Directory;
    public string Version => SdkFeed.Instance.Version;
}
