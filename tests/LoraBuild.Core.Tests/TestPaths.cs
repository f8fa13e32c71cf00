using LoraBuild.Native;

namespace LoraBuild.Tests;

/// <summary>Where the committed fixtures live (tests/fixtures), and a one-time TorchSharp start-up.</summary>
public static class TestPaths
{
    public static readonly string RepoRoot = FindRepoRoot();
    public static readonly string Fixtures = Path.Combine(RepoRoot, "tests", "fixtures");
    /// <summary>A path in a fixture folder; a family's config-form suffix (<see cref="V5Suffix"/>) names the same folder.</summary>
    public static string Hf(params string[] parts) => Path.Combine([Fixtures, "hf", FixtureName(parts[0]), .. parts[1..]]);

    /// <summary>
    /// Families with a "@v5" suffix load the fixture's config.v5.json (the transformers 5.x form of its config.json)
    /// in place of config.json; both describe the same model.
    /// </summary>
    public const string V5Suffix = "@v5";

    /// <summary>Fixtures made with transformers 4.51 whose configs come in both forms.</summary>
    public static readonly string[] TwoFormFamilies = ["qwen3", "gemma2", "gemma3", "gemma3-rope-linear"];

    public static readonly string[] Families =
        ["llama", "llama3-rope-tied", "mistral", "qwen2", "phi3", .. TwoFormFamilies, .. TwoFormFamilies.Select(f => f + V5Suffix)];
    public static TheoryData<string> FamilyData() { var d = new TheoryData<string>(); foreach (var f in Families) d.Add(f); return d; }

    public static string FixtureName(string family) => family.EndsWith(V5Suffix, StringComparison.Ordinal) ? family[..^V5Suffix.Length] : family;

    /// <summary>
    /// A model folder of a fixture (or its <paramref name="subfolder"/>, e.g. merged-lora): the folder itself, or for a
    /// "@v5" family a copy whose config.json is the folder's config.v5.json.
    /// </summary>
    public static string ModelFolder(string family, string? subfolder = null)
    {
        var source = subfolder is null ? Hf(family) : Hf(family, subfolder);
        if (!family.EndsWith(V5Suffix, StringComparison.Ordinal)) return source;
        lock (V5Mirrors)
        {
            if (V5Mirrors.TryGetValue(source, out var existing)) return existing;
            var mirror = TempDirectory();
            foreach (var file in Directory.GetFiles(source))
            {
                var name = Path.GetFileName(file);
                if (name is "config.json" or "config.v5.json") continue;
                File.Copy(file, Path.Combine(mirror, name));
            }
            File.Copy(Path.Combine(source, "config.v5.json"), Path.Combine(mirror, "config.json"));
            V5Mirrors[source] = mirror;
            return mirror;
        }
    }

    static readonly Dictionary<string, string> V5Mirrors = new();

    /// <summary>
    /// Logit tolerance: 1e-4, or for the larger-weight transformers 4.51 fixtures (std 0.15 weights, logits up to ~11)
    /// max(1e-4, 3e-5 x max |logit|), their fp32 noise (hf-fixtures README).
    /// </summary>
    public static double LogitTolerance(string family, float maxAbsLogit) =>
        TwoFormFamilies.Contains(FixtureName(family)) ? Math.Max(1e-4, 3e-5 * maxAbsLogit) : 1e-4;

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
