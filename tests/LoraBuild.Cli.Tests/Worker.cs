using System.Diagnostics;

namespace LoraBuild.Cli.Tests;

/// <summary>Runs the built lorabuild.dll in its own process and captures what it prints.</summary>
public static class Worker
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(params string[] args) => RunWithEnvironment(new Dictionary<string, string?>(), args);

    public static Result RunWithEnvironment(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "lorabuild.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(900_000)) { process.Kill(true); throw new TimeoutException("lorabuild " + string.Join(' ', args)); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
