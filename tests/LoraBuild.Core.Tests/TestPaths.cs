using LoraBuild.Native;

namespace LoraBuild.Tests;

/// <summary>Where the committed fixtures live (tests/fixtures), and a one-time TorchSharp start-up.</summary>
public static class TestPaths
{
    public static readonly string RepoRoot = FindRepoRoot();
    public static readonly string Fixtures = Path.Combine(RepoRoot, "tests", "fixtures");
    public static string Hf(params string[] parts) => Path.Combine([Fixtures, "hf", .. parts]);

    public static readonly string[] Families = ["llama", "llama3-rope-tied", "mistral", "qwen2", "phi3"];
    public static TheoryData<string> FamilyData() { var d = new TheoryData<string>(); foreach (var f in Families) d.Add(f); return d; }

    static readonly Lazy<TorchRuntimeInfo> Runtime = new(TorchRuntime.EnsureLoaded);
    public static TorchRuntimeInfo EnsureTorch() => Runtime.Value;

    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "lorabuild-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "LoraBuild.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("LoraBuild.sln not found above " + AppContext.BaseDirectory);
    }
}
