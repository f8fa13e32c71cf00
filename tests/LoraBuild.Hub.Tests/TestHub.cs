using LoraBuild.HubEmulator;

namespace LoraBuild.Hub.Tests;

/// <summary>
/// A Hub emulator serving test-org/tiny-llama (tests/fixtures/hf/llama, plus the files a real repo has that a model
/// build must skip), an empty HF cache in a temp folder, and clients configured for them. Deleted on dispose.
/// </summary>
sealed class TestHub : IAsyncDisposable
{
    public const string ModelId = "test-org/tiny-llama";

    TestHub(HubEmulator.HubEmulator emulator, string root)
    {
        Emulator = emulator;
        Root = root;
        CacheDir = Path.Combine(root, "cache");
    }

    public HubEmulator.HubEmulator Emulator { get; }
    public string Root { get; }
    public string CacheDir { get; }
    public string ModelFolder => Path.Combine(Root, "repo");
    public string Commit { get; private set; } = "";

    public static async Task<TestHub> StartAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), "lorabuild-hub-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var hub = new TestHub(await HubEmulator.HubEmulator.StartAsync(), root);
        MakeRepoFolder(hub.ModelFolder);
        hub.Commit = hub.Emulator.AddModel(ModelId, hub.ModelFolder);
        return hub;
    }

    static void MakeRepoFolder(string folder)
    {
        var source = Path.Combine(RepoRoot, "tests", "fixtures", "hf", "llama");
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(source, name), Path.Combine(folder, name));
        // What a real repo also holds and a model build must never download.
        File.WriteAllText(Path.Combine(folder, "README.md"), "# tiny llama\n");
        File.WriteAllBytes(Path.Combine(folder, "pytorch_model.bin"), new byte[4096]);
        File.WriteAllBytes(Path.Combine(folder, "model.gguf"), new byte[1024]);
        Directory.CreateDirectory(Path.Combine(folder, "original"));
        File.WriteAllBytes(Path.Combine(folder, "original", "consolidated.00.pth"), new byte[2048]);
        Directory.CreateDirectory(Path.Combine(folder, "onnx"));
        File.WriteAllBytes(Path.Combine(folder, "onnx", "model.onnx"), new byte[2048]);
    }

    public HubSettings Settings(string? token = null, bool offline = false) => new()
    {
        Endpoint = Emulator.HubUrl,
        CacheDir = CacheDir,
        Token = token,
        Offline = offline,
        RetryDelay = TimeSpan.FromMilliseconds(5),
    };

    public HubClient Client(string? token = null, bool offline = false) => new(Settings(token, offline));

    public static readonly RepoId Model = new(RepoType.Model, ModelId);

    public static string RepoRoot
    {
        get
        {
            var dir = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(dir, "LoraBuild.sln"))) dir = Path.GetDirectoryName(dir)!;
            return dir;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Emulator.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
