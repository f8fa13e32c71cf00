using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// Every worker command, run from the two ways a user gets the worker without the SDK — a plain `dotnet build -o` of
/// src/LoraBuild.Cli and the installed LoraBuild.Tool — with no LoraBuild environment variables: each works or ends
/// in one coded error, never a stack trace. The command list is read from `lorabuild --help`, so a new command is covered.
/// </summary>
public class WorkerCommandsTests
{
    static readonly Lazy<string> PlainBuild = new(() =>
    {
        var feed = RuntimeFeed.Instance; // packs (and so builds) src/LoraBuild.Cli first: the build below never races it
        var output = Path.Combine(Path.GetTempPath(), "lorabuild-plain-worker", Guid.NewGuid().ToString("N")[..10]);
        var build = DotNet.Run(feed.Directory, new Dictionary<string, string?>(), "build",
            Path.Combine(SdkFeed.Instance.RepoRoot, "src", "LoraBuild.Cli"), "-c", "Release", "-o", output);
        if (build.ExitCode != 0) throw new InvalidOperationException("dotnet build src/LoraBuild.Cli -o failed:\n" + build.Output);
        return output;
    });

    static readonly Lazy<string> InstalledTool = new(() =>
    {
        var feed = RuntimeFeed.Instance;
        var toolPath = Path.Combine(Path.GetTempPath(), "lorabuild-tool-tests", Guid.NewGuid().ToString("N")[..10]);
        var install = DotNet.Run(Path.GetTempPath(), new Dictionary<string, string?>(), "tool", "install", "LoraBuild.Tool", "--tool-path", toolPath,
            "--version", feed.Version, "--add-source", feed.Directory);
        if (install.ExitCode != 0) throw new InvalidOperationException("dotnet tool install failed:\n" + install.Output);
        return toolPath;
    });

    static string Fixture(params string[] parts) => Path.Combine([SdkFeed.Instance.RepoRoot, "tests", "fixtures", "hf", .. parts]);

    /// <summary>Arguments that make each command do its real work on the small llama fixture (or fail as a user would).</summary>
    static string[] ArgumentsFor(string command, string scratch) => command switch
    {
        "logits" => ["--model", Fixture("llama"), "--input-ids", Fixture("llama", "golden.safetensors"), "--out", Path.Combine(scratch, "logits.safetensors")],
        "inspect" => ["--model", Fixture("llama"), "--adapter", Fixture("llama", "adapter-lora")],
        "merge" => ["--model", Fixture("llama"), "--adapter", Fixture("llama", "adapter-lora"), "--out", Path.Combine(scratch, "merged")],
        "generate" => ["--model", Fixture("llama"), "--adapter", Fixture("llama", "adapter-lora"), "--prompt", "Hello", "--max-new-tokens", "3"],
        "init" => ["--config", Fixture("llama", "config.json"), "--out", Path.Combine(scratch, "init")],
        "eval" => ["--model", Fixture("llama"), "--dataset", Path.Combine(scratch, "missing.jsonl"), "--out", Path.Combine(scratch, "metrics.json")],
        "train" => ["--model", Fixture("llama"), "--dataset", Path.Combine(scratch, "missing.jsonl"), "--out", Path.Combine(scratch, "run")],
        "bench" => ["--model", Path.Combine(scratch, "no-model"), "--steps", "1"],
        _ => [], // a command this table does not know: its own argument checks must answer without a trace
    };

    /// <summary>Commands expected to succeed with the arguments above (the rest must end in a coded or usage error).</summary>
    static readonly HashSet<string> MustWork = ["logits", "inspect", "merge", "generate", "init"];

    [Fact]
    public void Every_command_of_a_plain_build_works_or_ends_in_a_coded_error() =>
        CheckEveryCommand(["dotnet", Path.Combine(PlainBuild.Value, "lorabuild.dll")]);

    [Fact]
    public void Every_command_of_the_installed_tool_works_or_ends_in_a_coded_error() =>
        CheckEveryCommand([Path.Combine(InstalledTool.Value, "lorabuild")]);

    static void CheckEveryCommand(string[] worker)
    {
        var help = Run(worker, ["--help"]);
        Assert.True(help.ExitCode == 0, help.Output);
        var commands = Regex.Matches(help.Output, @"^\s{2}([a-z][a-z-]+)\s", RegexOptions.Multiline).Select(m => m.Groups[1].Value).Distinct().ToList();
        foreach (var expected in new[] { "train", "eval", "generate", "merge", "logits", "inspect", "init" }) Assert.Contains(expected, commands);

        var scratch = Path.Combine(Path.GetTempPath(), "lorabuild-worker-commands", Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(scratch);
        try
        {
            var failures = new List<string>();
            foreach (var command in commands)
            {
                var result = Run(worker, [command, .. ArgumentsFor(command, scratch)]);
                var trace = Regex.IsMatch(result.Output, @"^\s+at \S+\(", RegexOptions.Multiline) || result.Output.Contains("Unhandled exception", StringComparison.Ordinal);
                var coded = Regex.IsMatch(result.Output, @"error LB\d{4}:") ;
                var ok = MustWork.Contains(command) ? result.ExitCode == 0 : result.ExitCode == 0 || (result.ExitCode == 1 && coded);
                if (trace || !ok) failures.Add($"lorabuild {command}: exit {result.ExitCode}\n{result.Output}");
                if (command == "merge" && result.ExitCode == 0) Assert.True(File.Exists(Path.Combine(scratch, "merged", "model.safetensors")), result.Output);
                if (command == "logits" && result.ExitCode == 0) Assert.True(File.Exists(Path.Combine(scratch, "logits.safetensors")), result.Output);
            }
            Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        }
        finally { Directory.Delete(scratch, true); }
    }

    /// <summary>Runs the worker as a user's shell would: only PATH and HOME (no LoraBuild or MSBuild variables).</summary>
    static (int ExitCode, string Output) Run(string[] worker, string[] args)
    {
        var start = new ProcessStartInfo(worker[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in worker[1..]) start.ArgumentList.Add(a);
        foreach (var a in args) start.ArgumentList.Add(a);
        var keep = new[] { "PATH", "HOME", "DOTNET_ROOT", "TMPDIR", "NUGET_PACKAGES", "DOTNET_CLI_HOME" };
        foreach (var key in start.Environment.Keys.Where(k => !keep.Contains(k)).ToList()) start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(300_000)) { process.Kill(true); throw new TimeoutException("lorabuild " + string.Join(' ', args)); }
        return (process.ExitCode, output.Result + error.Result);
    }
}
