using System.Diagnostics;
using System.Text.Json;

namespace LoraBuild.Hub.Tests;

/// <summary>
/// Runs eng/hub-interop/interop.mjs (@huggingface/hub, pinned by its package-lock.json); installs it with `npm ci` the
/// first time, as CI starts from a clean clone.
/// </summary>
static class NodeOracle
{
    static readonly SemaphoreSlim Install = new(1, 1);

    public static string Folder => Path.Combine(TestHub.RepoRoot, "eng", "hub-interop");

    public static async Task<JsonDocument> RunAsync(params string[] args)
    {
        await Install.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(Folder, "node_modules", "@huggingface", "hub")))
                await RunProcessAsync("npm", ["ci", "--no-audit", "--no-fund"]);
        }
        finally
        {
            Install.Release();
        }
        var output = await RunProcessAsync("node", ["interop.mjs", .. args]);
        return JsonDocument.Parse(output.Trim().Split('\n')[^1]);
    }

    static async Task<string> RunProcessAsync(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
        return await stdout;
    }
}
