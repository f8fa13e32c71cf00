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
