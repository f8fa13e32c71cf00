namespace LoraBuild.Sdk.Tests;

/// <summary>An adapter project in a temp folder: project file, isolated NuGet.config, data copied from examples/digits.</summary>
public sealed class AdapterProject
{
    public AdapterProject(string body, bool fakeWorker = true, string properties = "")
    {
        var feed = SdkFeed.Instance;
        Directory = Path.Combine(Path.GetTempPath(), "lorabuild-sdk-tests", Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "data"));
        foreach (var file in new[] { "spell-train.jsonl", "spell-eval.jsonl" })
            File.Copy(Path.Combine(feed.RepoRoot, "examples", "digits", file), Path.Combine(Directory, "data", file));
        CopyDirectory(Path.Combine(feed.RepoRoot, "examples", "digits", "base"), Path.Combine(Directory, "models", "base"));
        File.WriteAllText(Path.Combine(Directory, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="lorabuild-sdk" value="{feed.Directory}" />
              </packageSources>
            </configuration>
            """);
        var worker = fakeWorker ? $"<LoraBuildWorkerPath>{feed.FakeWorker}</LoraBuildWorkerPath>" : "";
        ProjectFile = Path.Combine(Directory, "Adapters.csproj");
        File.WriteAllText(ProjectFile, $"""
            <Project Sdk="LoraBuild.Sdk/{feed.Version}">
              <PropertyGroup>
                <PackageId>Contoso.Adapters</PackageId>
                <Version>2.1.0</Version>
                {worker}
                {properties}
              </PropertyGroup>
            {body}
            </Project>
            """);
        WorkerLog = Path.Combine(Directory, "worker.log");
    }

    public string Directory { get; }
    public string ProjectFile { get; }
    public string WorkerLog { get; }
    public Dictionary<string, string?> Environment { get; } = new();

    public int WorkerLaunches => File.Exists(WorkerLog) ? File.ReadAllLines(WorkerLog).Length : 0;

    public DotNet.Result Run(params string[] args)
    {
        var environment = new Dictionary<string, string?>(Environment) { ["FAKE_WORKER_LOG"] = WorkerLog };
        return DotNet.Run(Directory, environment, args);
    }

    public int LineOf(string text) => File.ReadAllLines(ProjectFile).Select((l, i) => (l, i)).First(p => p.l.Contains(text)).i + 1;

    static void CopyDirectory(string source, string target)
    {
        System.IO.Directory.CreateDirectory(target);
        foreach (var file in System.IO.Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
    }
}
