using System.Security.Cryptography;
using System.Text;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// The dotnet new templates (templates/LoraBuild.Templates), packed fresh and installed into a dotnet new home of their
/// own: their help and generated files are pinned (templates-golden/), and what they generate trains, packs and runs.
/// Set LORABUILD_UPDATE_GOLDENS=1 to rewrite the golden files after an intended change (then review the diff).
/// </summary>
public class TemplateTests
{
    static readonly string GoldenDirectory = Path.Combine(FindRepoRoot(), "tests", "LoraBuild.Sdk.Tests", "templates-golden");

    [Fact]
    public void Help_and_generated_files_match_the_golden_files()
    {
        var root = NewTempFolder("lorabuild-template-goldens");
        try
        {
            var templates = new TemplatePackage(version: null, feed: Path.Combine(root, "feed"));
            try
            {
                foreach (var template in new[] { "lora-adapter", "lora-app" })
                {
                    var help = templates.New(root, template, "--help");
                    Assert.True(help.ExitCode == 0, help.Output);
                    AssertGolden($"{template}-help.txt", help.Output);
                }

                var cases = new (string Golden, string[] Arguments)[]
                {
                    ("lora-adapter-defaults.txt", ["lora-adapter", "-n", "LoraAdapter1"]),
                    ("lora-adapter-parameters.txt", ["lora-adapter", "-n", "Contoso.SupportBot", "--base-model", "../models/tiny", "-r", "16", "--alpha", "32", "-q", "nf4", "-f", "net10.0"]),
                    ("lora-app-console.txt", ["lora-app", "-n", "SupportApp", "--adapter-package", "Contoso.SupportBot", "--adapter-version", "2.1.0"]),
                    ("lora-app-web.txt", ["lora-app", "-n", "SupportWeb", "-p", "Contoso.SupportBot", "--web", "-m", "/models/tiny"]),
                };
                foreach (var (golden, arguments) in cases)
                {
                    var output = Path.Combine(root, Path.GetFileNameWithoutExtension(golden));
                    var created = templates.New(root, [.. arguments, "-o", output]);
                    Assert.True(created.ExitCode == 0, created.Output);
                    AssertGolden(golden, Describe(output));
                }

                // The sample data is the digits example's spelling task, byte for byte (the end-to-end test trains on it).
                foreach (var (generated, example) in new[] { ("train.jsonl", "spell-train.jsonl"), ("eval.jsonl", "spell-eval.jsonl") })
                    Assert.Equal(File.ReadAllBytes(Path.Combine(templates.RepoRoot, "examples", "digits", example)),
                        File.ReadAllBytes(Path.Combine(root, "lora-adapter-defaults", "data", generated)));
            }
            finally { Directory.Delete(templates.Home, true); }
        }
        finally { Directory.Delete(root, true); }
    }

    /// <summary>
    /// As a new user would, outside the repository with a local feed: create an adapter project on the shipped tiny base
    /// (--base-model), build it (real training, evaluation and gates), pack it, create the app for it and run it: the app
    /// answers through IChatClient with the adapter, exactly as the worker generates with that adapter.
    /// </summary>
    [Fact]
    public void The_templates_make_an_adapter_that_trains_and_packs_and_an_app_that_answers_with_it()
    {
        const string Prompt = "spell 4 0 7:";
        var runtime = RuntimeFeed.Instance;
        var root = NewTempFolder("lorabuild-template-tests");
        // A package id of its own: the NuGet cache never holds a stale copy of it, and it is removed from there at the end.
        var name = "Speller" + Guid.NewGuid().ToString("N")[..8];
        var adapterName = name.ToLowerInvariant();
        TemplatePackage? templates = null;
        try
        {
            templates = new TemplatePackage(runtime.Version, runtime.Directory);
            CopyDirectory(Path.Combine(templates.RepoRoot, "examples", "digits", "base"), Path.Combine(root, "models", "base"));
            File.WriteAllText(Path.Combine(root, "NuGet.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{runtime.Directory}" />
                  </packageSources>
                </configuration>
                """);
            // This machine's schedule, beside the project as a CI repository's Directory.Build.targets would be: 60 steps
            // instead of the template's 800 (real training on 2 CPU cores), so the exact-match gate (0.9 after 800 steps)
            // is lowered to 0; the template's eval_loss gate (1.0 below the base) stays as generated.
            File.WriteAllText(Path.Combine(root, "Directory.Build.targets"), """
                <Project>
                  <ItemGroup>
                    <LoraAdapter Update="@(LoraAdapter)" MaxSteps="60" />
                    <LoraEvalGate Update="@(LoraEvalGate)">
                      <Min Condition="'%(Metric)' == 'exact_match'">0</Min>
                    </LoraEvalGate>
                  </ItemGroup>
                </Project>
                """);
            var environment = new Dictionary<string, string?>();

            var adapter = templates.New(root, "lora-adapter", "-n", name, "--base-model", "../models/base");
            Assert.True(adapter.ExitCode == 0, adapter.Output);
            var adapterProject = Path.Combine(root, name);
            // Real training: seconds on 2 idle cores, minutes on a busy machine.
            var build = DotNet.Run(TimeSpan.FromMinutes(45), adapterProject, environment, "build", "-c", "Release");
            Assert.True(build.ExitCode == 0, build.Output);
            Assert.Contains("eval_loss", build.Output); // the gate table
            var pack = DotNet.Run(adapterProject, environment, "pack", "-c", "Release", "--no-build", "-o", runtime.Directory);
            Assert.True(pack.ExitCode == 0, pack.Output);
            Assert.True(File.Exists(Path.Combine(runtime.Directory, $"{name}.1.0.0.nupkg")), pack.Output);

            // The oracle: what the SDK's worker generates with that base and the trained adapter (and with the base alone,
            // which must differ: the app answers with the adapter).
            var worker = Path.Combine(ConsumingTests.GlobalPackagesFolder(), "lorabuild.sdk", runtime.Version, "tools", "worker", "lorabuild.dll");
            var expected = DotNet.Run(root, environment, worker, "generate", "--model", Path.Combine(root, "models", "base"),
                "--adapter", $"{adapterName}=" + Path.Combine(adapterProject, "bin", "lora", adapterName), "--prompt", Prompt, "--prompt", Prompt,
                "--use", adapterName, "--use", "base", "--max-new-tokens", "64");
            Assert.True(expected.ExitCode == 0, expected.Output);
            var expectedLine = expected.Output.Split('\n').Single(l => l.StartsWith($"[{adapterName}] ", StringComparison.Ordinal)).TrimEnd();
            var baseLine = expected.Output.Split('\n').Single(l => l.StartsWith("[base] ", StringComparison.Ordinal)).TrimEnd();
            Assert.NotEqual(baseLine[("[base] ".Length)..], expectedLine[($"[{adapterName}] ".Length)..]);

            var app = templates.New(root, "lora-app", "-n", "SpellerApp", "--adapter-package", name, "--base-model", Path.Combine(root, "models", "base"));
            Assert.True(app.ExitCode == 0, app.Output);
            var appProject = Path.Combine(root, "SpellerApp");
            var appBuild = DotNet.Run(appProject, environment, "build", "-c", "Release");
            Assert.True(appBuild.ExitCode == 0, appBuild.Output);
            var run = DotNet.Run(appProject, environment, Path.Combine(appProject, "bin", "Release", "net10.0", "SpellerApp.dll"), Prompt);
            Assert.True(run.ExitCode == 0, run.Output);
            Assert.Contains(expectedLine, run.Output);

            // --web: the ASP.NET Core app answers POST /chat through the same IChatClient.
            var web = templates.New(root, "lora-app", "-n", "SpellerWeb", "--adapter-package", name, "--web", "--base-model", Path.Combine(root, "models", "base"));
            Assert.True(web.ExitCode == 0, web.Output);
            var webProject = Path.Combine(root, "SpellerWeb");
            var webBuild = DotNet.Run(webProject, environment, "build", "-c", "Release");
            Assert.True(webBuild.ExitCode == 0, webBuild.Output);
            var reply = PostChat(Path.Combine(webProject, "bin", "Release", "net10.0", "SpellerWeb.dll"), Prompt);
            Assert.Equal(adapterName, reply.GetProperty("adapter").GetString());
            Assert.Equal(expectedLine, $"[{adapterName}] {Prompt}{reply.GetProperty("text").GetString()}".TrimEnd());
        }
        finally
        {
            if (templates is not null) Directory.Delete(templates.Home, true);
            Directory.Delete(root, true);
            foreach (var package in Directory.GetFiles(runtime.Directory, $"{name}.*.nupkg")) File.Delete(package);
            var cached = Path.Combine(ConsumingTests.GlobalPackagesFolder(), adapterName);
            if (Directory.Exists(cached)) Directory.Delete(cached, true);
        }
    }

    /// <summary>Starts the web app on a free port, posts one prompt to /chat, stops it; returns the JSON reply.</summary>
    static System.Text.Json.JsonElement PostChat(string appDll, string prompt)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { appDll, "--urls", "http://127.0.0.1:0" }) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var log = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        try
        {
            // Kestrel prints the address it bound: "Now listening on: http://127.0.0.1:PORT".
            string? address = null;
            while (address is null && process.StandardOutput.ReadLine() is { } line)
            {
                lock (log) log.AppendLine(line);
                var at = line.IndexOf("Now listening on: ", StringComparison.Ordinal);
                if (at >= 0) address = line[(at + "Now listening on: ".Length)..].Trim();
            }
            Assert.True(address is not null, "the web app did not start:\n" + log);
            _ = process.StandardOutput.ReadToEndAsync();
            using var http = new HttpClient { BaseAddress = new Uri(address!), Timeout = TimeSpan.FromMinutes(5) };
            using var response = http.PostAsync("/chat", new StringContent(System.Text.Json.JsonSerializer.Serialize(new { prompt }), Encoding.UTF8, "application/json")).GetAwaiter().GetResult();
            var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {body}\n{log}");
            return System.Text.Json.JsonDocument.Parse(body).RootElement.Clone();
        }
        finally
        {
            if (!process.HasExited) process.Kill(true);
            process.WaitForExit();
        }
    }

    static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
    }

    /// <summary>Every file of a generated folder, sorted, with its content (data files by line count and sha256).</summary>
    static string Describe(string folder)
    {
        var text = new StringBuilder();
        foreach (var file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Order(StringComparer.Ordinal))
        {
            var bytes = File.ReadAllBytes(Path.Combine(folder, file));
            if (file.EndsWith(".jsonl", StringComparison.Ordinal))
                text.Append($"=== {file}: {Encoding.UTF8.GetString(bytes).Count(c => c == '\n')} lines, sha256 {Convert.ToHexStringLower(SHA256.HashData(bytes))}\n");
            else
                text.Append($"=== {file}\n{Encoding.UTF8.GetString(bytes)}");
        }
        return text.ToString();
    }

    static void AssertGolden(string name, string actual)
    {
        var path = Path.Combine(GoldenDirectory, name);
        actual = actual.Replace("\r\n", "\n");
        if (Environment.GetEnvironmentVariable("LORABUILD_UPDATE_GOLDENS") == "1")
        {
            Directory.CreateDirectory(GoldenDirectory);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run with LORABUILD_UPDATE_GOLDENS=1 to write it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    internal static string NewTempFolder(string prefix)
    {
        var folder = Path.Combine(Path.GetTempPath(), prefix, Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "LoraBuild.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("LoraBuild.sln not found");
    }
}
