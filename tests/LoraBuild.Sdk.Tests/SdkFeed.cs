using System.Diagnostics;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// The SDK packed once per test run, with a version of its own, into a folder feed: test projects restore it from there
/// (as microsoft/MSBuildSdks' tests do), and the unique version keeps a stale copy in the NuGet cache from ever being used.
/// </summary>
public sealed class SdkFeed
{
    public static readonly SdkFeed Instance = new();

    SdkFeed()
    {
        RepoRoot = FindRepoRoot();
        Directory = Path.Combine(Path.GetTempPath(), "lorabuild-sdk-feed", Guid.NewGuid().ToString("N")[..8]);
        Version = $"1.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}";
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        FakeWorker = Path.Combine(RepoRoot, "tests", "LoraBuild.FakeWorker", "bin", configuration, "net10.0", "LoraBuild.FakeWorker.dll");
        var result = DotNet.Run(RepoRoot, new Dictionary<string, string?>(), "pack", Path.Combine(RepoRoot, "sdk", "LoraBuild.Sdk"), "-c", configuration,
            $"-p:Version={Version}", "-o", Directory);
        if (result.ExitCode != 0) throw new InvalidOperationException("packing the SDK failed:\n" + result.Output);
    }

    public string RepoRoot { get; }
    public string Directory { get; }
    public string Version { get; }
    public string FakeWorker { get; }

    static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "LoraBuild.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("LoraBuild.sln not found");
    }
}

/// <summary>Runs the dotnet CLI the way a user would, without the test host's MSBuild environment leaking in.</summary>
public static class DotNet
{
    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    public static Result Run(string directory, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        Run(TimeSpan.FromMinutes(10), directory, environment, args);

    /// <summary>As <see cref="Run(string, IReadOnlyDictionary{string, string?}, string[])"/>, for a command that may take longer than 10 minutes.</summary>
    public static Result Run(TimeSpan timeout, string directory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var extra = args[0] is "build" or "pack" or "clean" or "restore" or "msbuild" or "publish"
            ? new[] { "-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:n" } : [];
        return Execute("dotnet", directory, environment, [.. args, .. extra], timeout);
    }

    /// <summary>Runs a program other than dotnet (an installed tool), from the temp folder.</summary>
    public static Result RunExecutable(string path, params string[] args) =>
        Execute(path, Path.GetTempPath(), new Dictionary<string, string?>(), args, TimeSpan.FromMinutes(10));

    static Result Execute(string fileName, string directory, IReadOnlyDictionary<string, string?> environment, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout)) { process.Kill(true); throw new TimeoutException("dotnet " + string.Join(' ', args)); }
        return new Result(process.ExitCode, output.Result + error.Result, clock.Elapsed);
    }
}
