using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LoraBuild.Cli.Tests;

/// <summary>`lorabuild serve --port 0` in its own process; the address is read from its "listening on" line.</summary>
public sealed partial class ServeProcess : IDisposable
{
    readonly Process process;
    readonly System.Text.StringBuilder output = new();

    public ServeProcess(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lorabuild.dll"));
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add("0");
        foreach (var a in args) start.ArgumentList.Add(a);
        process = Process.Start(start)!;
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { listening.TrySetException(new InvalidOperationException("lorabuild serve exited: " + Output)); return; }
            lock (output) output.AppendLine(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m) listening.TrySetResult(m.Groups[1].Value);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(120))) throw new TimeoutException("lorabuild serve did not start: " + Output);
        Url = listening.Task.Result;
    }

    [GeneratedRegex(@"listening on (http://\S+)")]
    private static partial Regex Listening();

    public string Url { get; }
    public int Id => process.Id;
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>SIGTERM, as a service manager stops it; returns the exit code.</summary>
    public int Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) kill.WaitForExit();
        if (!process.WaitForExit(timeout)) throw new TimeoutException("lorabuild serve did not stop: " + Output);
        process.WaitForExit();
        return process.ExitCode;
    }

    public long ResidentBytes()
    {
        process.Refresh();
        return process.WorkingSet64;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }
}
