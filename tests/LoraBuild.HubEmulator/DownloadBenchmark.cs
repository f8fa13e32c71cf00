using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using LoraBuild.Hub;

namespace LoraBuild.HubEmulator;

/// <summary>
/// The download benchmark (not a test): one file of N MB served by the emulator (302 to its CDN host), downloaded by
/// LoraBuild's client and by @huggingface/hub (eng/hub-interop, node) in the same run, then by LoraBuild again with the
/// connection cut every M MB. Prints MB/s and the ratio. eng/hub-interop/bench.sh runs it.
/// </summary>
static class DownloadBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var sizeMb = Option(args, "--size-mb", 1024);
        var cutMb = Option(args, "--cut-every-mb", 100);
        var rounds = Option(args, "--rounds", 3);
        var interop = args.SkipWhile(a => a != "--interop").Skip(1).FirstOrDefault()
            ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "eng", "hub-interop");
        var work = Path.Combine(Path.GetTempPath(), "lorabuild-hub-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var repoFolder = Path.Combine(work, "repo");
        Directory.CreateDirectory(repoFolder);
        try
        {
            var file = Path.Combine(repoFolder, "model.safetensors");
            WriteRandom(file, (long)sizeMb << 20);
            await using var emulator = await HubEmulator.StartAsync();
            var commit = emulator.AddModel("bench/big-model", repoFolder);
            var expected = emulator.Repo("model", "bench/big-model").Commits[commit].Files[0].Sha256!;
            var mb = (double)((long)sizeMb << 20) / 1e6;
            Console.WriteLine($"file: {sizeMb} MiB ({mb:F0} MB), sha256 {expected[..16]}..., hub {emulator.HubUrl}, cdn {emulator.CdnUrl}; {Environment.ProcessorCount} cores");

            // Alternating rounds (the machine is shared; the first round also warms caches and JIT): each run's time, the best kept.
            var lorabuildRuns = new List<double>();
            var jsRuns = new List<double>();
            for (var round = 1; round <= rounds; round++)
            {
                lorabuildRuns.Add(await TimeLoraBuild(emulator, work, "lorabuild", expected));
                var (jsSeconds, jsFile) = TimeNode(interop, emulator.HubUrl, Path.Combine(work, "cache-js"));
                if (Sha256(jsFile) != expected) throw new InvalidOperationException("@huggingface/hub's copy does not match.");
                Directory.Delete(Path.Combine(work, "cache-js"), true);
                jsRuns.Add(jsSeconds);
                Console.WriteLine($"round {round}: LoraBuild.Hub {lorabuildRuns[^1]:F2} s ({mb / lorabuildRuns[^1]:F1} MB/s), @huggingface/hub {jsSeconds:F2} s ({mb / jsSeconds:F1} MB/s)");
            }
            var lorabuild = lorabuildRuns.Min();
            var js = jsRuns.Min();
            Console.WriteLine($"LoraBuild.Hub       : best {lorabuild:F2} s  {mb / lorabuild:F1} MB/s (downloads, checks sha256 while streaming, links into the cache)");
            Console.WriteLine($"@huggingface/hub    : best {js:F2} s  {mb / js:F1} MB/s (node process included; no sha256 check)");
            Console.WriteLine($"ratio (LoraBuild MB/s / @huggingface/hub MB/s): {js / lorabuild:F2}");

            var before = emulator.Requests.Count;
            emulator.Faults.CutEveryBytes = (long)cutMb << 20;
            var cut = await TimeLoraBuild(emulator, work, "lorabuild-cut", expected);
            var resumes = emulator.Requests.Skip(before).Count(r => r.Host == "cdn" && r.Range is not null);
            Console.WriteLine($"LoraBuild.Hub, cut every {cutMb} MiB: {cut:F2} s  {mb / cut:F1} MB/s  ({resumes} Range resumes, sha256 ok)");
            try
            {
                var (cutJs, cutJsFile) = TimeNode(interop, emulator.HubUrl, Path.Combine(work, "cache-js-cut"));
                Console.WriteLine($"@huggingface/hub, cut every {cutMb} MiB: {cutJs:F2} s, sha256 {(Sha256(cutJsFile) == expected ? "ok" : "MISMATCH")}");
            }
            catch (InvalidOperationException e)
            {
                Console.WriteLine($"@huggingface/hub, cut every {cutMb} MiB: failed ({e.Message.Split('\n')[0]})");
            }
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    static async Task<double> TimeLoraBuild(HubEmulator emulator, string work, string name, string expected)
    {
        var cache = Path.Combine(work, "cache-" + name);
        using var client = new HubClient(new HubSettings { Endpoint = emulator.HubUrl, CacheDir = cache, RetryDelay = TimeSpan.FromMilliseconds(50) });
        var clock = Stopwatch.StartNew();
        var path = await client.DownloadFileAsync(new RepoId(RepoType.Model, "bench/big-model"), "main", "model.safetensors");
        var seconds = clock.Elapsed.TotalSeconds;
        // The client checked the sha256 already; this checks the benchmark itself.
        if (Sha256(path) != expected) throw new InvalidOperationException("LoraBuild's copy does not match.");
        Directory.Delete(cache, true);
        return seconds;
    }

    static (double Seconds, string Path) TimeNode(string interop, string hubUrl, string cache)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = interop, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "interop.mjs", "file", hubUrl, cache, "model", "bench/big-model", "main", "model.safetensors" }) start.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0) throw new InvalidOperationException($"node exited {process.ExitCode}: {stderr.Result}");
        var json = System.Text.Json.JsonDocument.Parse(stdout.Result.Trim().Split('\n')[^1]);
        return (seconds, json.RootElement.GetProperty("path").GetString()!);
    }

    static void WriteRandom(string path, long bytes)
    {
        var random = new Random(42);
        var buffer = new byte[1 << 20];
        using var stream = File.Create(path);
        for (long written = 0; written < bytes; written += buffer.Length)
        {
            random.NextBytes(buffer);
            stream.Write(buffer, 0, (int)Math.Min(buffer.Length, bytes - written));
        }
    }

    static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
