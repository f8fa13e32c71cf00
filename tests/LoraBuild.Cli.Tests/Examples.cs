using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>Paths into examples/digits and a way to run a training config into a fresh folder.</summary>
public static class Examples
{
    public static string Digits(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "examples", "digits", .. parts]);

    /// <summary>Runs `lorabuild train --config` on an example config with output (and extra settings) redirected.</summary>
    public static (Worker.Result Result, string Output) Train(string config, string output, params string[] settings)
    {
        var args = new List<string> { "train", "--config", Digits(config), "--out", output };
        foreach (var s in settings) args.AddRange(["--set", s]);
        return (Worker.Run([.. args]), output);
    }
}
