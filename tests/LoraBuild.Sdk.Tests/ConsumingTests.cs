using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace LoraBuild.Sdk.Tests;

/// <summary>An app outside the repository that consumes an adapter package and the runtime package, as docs/sdk.md says.</summary>
public class ConsumingTests
{
    const string Prompt = "spell 4 0 7:";

    [Fact]
    public void A_console_app_outside_the_repo_generates_with_the_runtime_and_adapter_packages_built_and_published()
    {
        var runtime = RuntimeFeed.Instance;
        // An adapter package built with the real worker.
        var adapterProject = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" Rank="4" Alpha="8"
                             MaxSteps="30" BatchSize="16" SequenceLength="32" LearningRate="0.003" />
              </ItemGroup>
            """, fakeWorker: false);
        var pack = adapterProject.Run("pack", "-o", runtime.Directory);
        Assert.True(pack.ExitCode == 0, pack.Output);
        var baseModel = Path.Combine(adapterProject.Directory, "models", "base");

        // What the worker itself generates with that base and adapter: the app must print exactly this.
        var worker = Path.Combine(GlobalPackagesFolder(), "lorabuild.sdk", runtime.Version, "tools", "worker", "lorabuild.dll");
        var expected = DotNet.Run(adapterProject.Directory, new Dictionary<string, string?>(), worker, "generate", "--model", baseModel,
            "--adapter", "speller=" + Path.Combine(adapterProject.Directory, "bin", "lora", "speller"), "--prompt", Prompt, "--max-new-tokens", "12");
        Assert.True(expected.ExitCode == 0, expected.Output);
        var expectedLine = expected.Output.Split('\n').Single(l => l.StartsWith("[speller] ", StringComparison.Ordinal)).TrimEnd();

        var app = ConsumerApp.Create(runtime, "Contoso.Adapters");
        var packages = Path.Combine(app, ".packages");
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using LoraBuild.Runtime;
            var adapters = AdapterHost.DiscoverAdapters();
            using var host = AdapterHost.Load(args[0], adapters);
            Console.WriteLine($"[speller] {args[1]}{host.Generate("speller", args[1], new(MaxNewTokens: 12))}");
            """);
        var environment = new Dictionary<string, string?>();
        var build = DotNet.Run(app, environment, "build", "-c", "Release");
        Assert.True(build.ExitCode == 0, build.Output);
        var run = DotNet.Run(app, environment, Path.Combine(app, "bin", "Release", "net10.0", "Consumer.dll"), baseModel, Prompt);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains(expectedLine, run.Output);

        // Published, then run with the NuGet packages folder gone: libtorch and the adapter travel with the app.
        var publishDir = Path.Combine(app, "publish");
        var publish = DotNet.Run(app, environment, "publish", "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-o", publishDir);
        Assert.True(publish.ExitCode == 0, publish.Output);
        Directory.Move(packages, packages + ".moved-away");
        try
        {
            var published = DotNet.Run(app, new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(app, "no-such-cache") },
                Path.Combine(publishDir, "Consumer.dll"), baseModel, Prompt);
            Assert.True(published.ExitCode == 0, published.Output);
            Assert.Contains(expectedLine, published.Output);
        }
        finally { Directory.Move(packages + ".moved-away", packages); }
    }

    [Fact]
    public void The_tool_package_installs_and_runs_help()
    {
        var runtime = RuntimeFeed.Instance;
        var toolPath = Path.Combine(Path.GetTempPath(), "lorabuild-tool-tests", Guid.NewGuid().ToString("N")[..10]);
        var install = DotNet.Run(Path.GetTempPath(), new Dictionary<string, string?>(), "tool", "install", "LoraBuild.Tool", "--tool-path", toolPath,
            "--version", runtime.Version, "--add-source", runtime.Directory);
        Assert.True(install.ExitCode == 0, install.Output);
        var help = DotNet.RunExecutable(Path.Combine(toolPath, "lorabuild"), "--help");
        Assert.True(help.ExitCode == 0, help.Output);
        foreach (var command in new[] { "train", "eval", "generate", "merge", "inspect" }) Assert.Contains(command, help.Output);
    }

    [Fact]
    public void The_runtime_package_closure_has_no_training_code_and_no_yaml()
    {
        var runtime = RuntimeFeed.Instance;
        var closure = new Dictionary<string, XElement>();
        var pending = new Queue<string>(["LoraBuild.Runtime"]);
        while (pending.TryDequeue(out var id))
        {
            if (closure.ContainsKey(id)) continue;
            var nupkg = Path.Combine(runtime.Directory, $"{id}.{runtime.Version}.nupkg");
            if (!File.Exists(nupkg)) continue; // a third-party package: only its id matters below
            using var zip = ZipFile.OpenRead(nupkg);
            using var nuspec = zip.GetEntry($"{id}.nuspec")!.Open();
            var document = XElement.Load(nuspec);
            closure[id] = document;
            foreach (var dependency in document.Descendants().Where(e => e.Name.LocalName == "dependency"))
                pending.Enqueue(dependency.Attribute("id")!.Value);

            foreach (var entry in zip.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.FullName.EndsWith(".dll", StringComparison.Ordinal)))
            {
                using var stream = new MemoryStream();
                using (var dll = entry.Open()) dll.CopyTo(stream);
                stream.Position = 0;
                using var pe = new PEReader(stream);
                var metadata = pe.GetMetadataReader();
                var namespaces = metadata.TypeDefinitions.Select(t => metadata.GetString(metadata.GetTypeDefinition(t).Namespace)).ToHashSet();
                Assert.DoesNotContain(namespaces, n => n.StartsWith("LoraBuild.Training", StringComparison.Ordinal) || n.StartsWith("LoraBuild.Benchmarks", StringComparison.Ordinal)
                    || n.StartsWith("LoraBuild.Evaluation", StringComparison.Ordinal));
                var references = metadata.AssemblyReferences.Select(r => metadata.GetString(metadata.GetAssemblyReference(r).Name)).ToList();
                Assert.DoesNotContain("YamlDotNet", references);
                Assert.DoesNotContain("LoraBuild.Training", references);
            }
        }
        var ids = closure.Values.SelectMany(d => d.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value)).ToHashSet();
        Assert.Contains("LoraBuild.Modeling", ids);
        Assert.Contains("libtorch-cpu-linux-x64", ids);
        Assert.DoesNotContain("YamlDotNet", ids);
        Assert.DoesNotContain("LoraBuild.Training", ids);
        Assert.DoesNotContain("LoraBuild.Tool", ids);
    }

    internal static string GlobalPackagesFolder()
    {
        var result = DotNet.Run(Path.GetTempPath(), new Dictionary<string, string?>(), "nuget", "locals", "global-packages", "--list");
        return result.Output.Split('\n').First(l => l.StartsWith("global-packages:", StringComparison.Ordinal))["global-packages:".Length..].Trim();
    }
}
