using System.Diagnostics;
using System.Text.Json;

namespace LoraBuild.Tests;

/// <summary>
/// Runs the Node scripts of eng/llama-cpp: llama.cpp itself (node-llama-cpp's prebuilt CPU build) and @huggingface/gguf.
/// Installs the pinned packages with <c>npm ci --omit=optional</c> the first time (CI starts from a clean clone; the
/// optional CUDA/Vulkan/ARM builds are not needed).
/// </summary>
public static class LlamaCppOracle
{
    public static readonly string Directory = Path.Combine(TestPaths.RepoRoot, "eng", "llama-cpp");
    static readonly Lazy<bool> Installed = new(Install);

    static bool Install()
    {
        if (System.IO.Directory.Exists(Path.Combine(Directory, "node_modules", "node-llama-cpp")) &&
            System.IO.Directory.Exists(Path.Combine(Directory, "node_modules", "@huggingface", "gguf"))) return true;
        Run("npm", ["ci", "--omit=optional", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(10));
        return true;
    }

    /// <summary>oracle.mjs on a list of jobs; one reply per job.</summary>
    public static JsonElement Llama(IReadOnlyList<object> jobs)
    {
        _ = Installed.Value;
        var request = Path.Combine(Path.GetTempPath(), $"lorabuild-llama-{Guid.NewGuid():N}.json");
        File.WriteAllText(request, JsonSerializer.Serialize(new { jobs }));
        try
        {
            return JsonDocument.Parse(Run("node", ["oracle.mjs", request], TimeSpan.FromMinutes(5))).RootElement;
        }
        finally
        {
            File.Delete(request);
        }
    }

    /// <summary>read-gguf.mjs: the file as @huggingface/gguf reads it.</summary>
    public static JsonElement ReadGguf(string path)
    {
        _ = Installed.Value;
        return JsonDocument.Parse(Run("node", ["read-gguf.mjs", path], TimeSpan.FromMinutes(2))).RootElement;
    }

    static string Run(string program, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(timeout)) { process.Kill(entireProcessTree: true); throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran past {timeout}"); }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}");
        return stdout;
    }
}
