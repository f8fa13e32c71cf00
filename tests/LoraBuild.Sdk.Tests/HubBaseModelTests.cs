using System.Text.Json;
using LoraBuild.HubEmulator;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// BaseModel="org/name": real builds with the real worker against the Hub emulator (serving the digits base as
/// test-org/tiny-llama): the lock file, the offline no-op rebuild, locked mode against a moved branch, the package's record.
/// </summary>
public class HubBaseModelTests
{
    [Fact]
    public async Task A_hub_base_model_trains_is_locked_rebuilds_offline_and_locked_mode_refuses_a_moved_branch()
    {
        await using var hub = await HubEmulator.HubEmulator.StartAsync();
        var feed = SdkFeed.Instance;
        var project = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="test-org/tiny-llama" Dataset="data/spell-train.jsonl"
                             Rank="4" Alpha="8" MaxSteps="6" BatchSize="16" SequenceLength="32" LearningRate="0.002" />
              </ItemGroup>
            """, fakeWorker: false);
        var repoFolder = Path.Combine(project.Directory, "hub-repo");
        Directory.CreateDirectory(repoFolder);
        foreach (var file in Directory.GetFiles(Path.Combine(feed.RepoRoot, "examples", "digits", "base")))
            File.Copy(file, Path.Combine(repoFolder, Path.GetFileName(file)));
        File.WriteAllBytes(Path.Combine(repoFolder, "pytorch_model.bin"), new byte[1024]);
        var commit = hub.AddModel("test-org/tiny-llama", repoFolder);
        var cache = Path.Combine(project.Directory, "hf-cache");
        project.Environment["HF_ENDPOINT"] = hub.HubUrl;
        project.Environment["HF_HUB_CACHE"] = cache;
        project.Environment["HF_TOKEN"] = null;
        project.Environment["HF_HUB_OFFLINE"] = null;

        var build = project.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("speller: step 6/6", build.Output);

        // lora.lock.json beside the project: the commit main resolved to, and the weights' sha256 and size.
        var lockPath = Path.Combine(project.Directory, "lora.lock.json");
        using (var lockFile = JsonDocument.Parse(File.ReadAllText(lockPath)))
        {
            var entry = lockFile.RootElement.GetProperty("models").GetProperty("test-org/tiny-llama");
            Assert.Equal("main", entry.GetProperty("revision").GetString());
            Assert.Equal(commit, entry.GetProperty("commit").GetString());
            var weights = entry.GetProperty("files").GetProperty("model.safetensors");
            var source = Path.Combine(repoFolder, "model.safetensors");
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source))), weights.GetProperty("sha256").GetString());
            Assert.Equal(new FileInfo(source).Length, weights.GetProperty("size").GetInt64());
        }
        // The model came into the HF cache, without the pickle.
        var snapshot = Path.Combine(cache, "models--test-org--tiny-llama", "snapshots", commit);
        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "pytorch_model.bin")));
        // The adapter names its base by id, as PEFT writes it, and records the commit.
        var output = Path.Combine(project.Directory, "bin", "lora", "speller");
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter_config.json"))))
            Assert.Equal("test-org/tiny-llama", config.RootElement.GetProperty("base_model_name_or_path").GetString());
        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "lorabuild.json"))))
        {
            Assert.Equal("test-org/tiny-llama", manifest.RootElement.GetProperty("base_model_id").GetString());
            Assert.Equal(commit, manifest.RootElement.GetProperty("base_model_commit").GetString());
        }

        // Offline, the second build is a no-op: nothing asked of the Hub, no training.
        var requests = hub.Requests.Count;
        project.Environment["HF_HUB_OFFLINE"] = "1";
        var offline = project.Run("build");
        Assert.True(offline.ExitCode == 0, offline.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", offline.Output);
        Assert.DoesNotContain("lorabuild train", offline.Output);
        Assert.Equal(requests, hub.Requests.Count);

        // main moves: locked mode (CI) refuses, naming both commits; the lock is untouched.
        File.WriteAllText(Path.Combine(repoFolder, "generation_config.json"), "{\"eos_token_id\": 0, \"pad_token_id\": 1, \"max_new_tokens\": 9}");
        var moved = hub.AddModel("test-org/tiny-llama", repoFolder);
        project.Environment["HF_HUB_OFFLINE"] = null;
        var lockBefore = File.ReadAllText(lockPath);
        var locked = project.Run("build", "-p:LoraBuildLockedMode=true");
        Assert.NotEqual(0, locked.ExitCode);
        Assert.Contains("error LB0421", locked.Output);
        Assert.Contains(commit, locked.Output);
        Assert.Contains(moved, locked.Output);
        Assert.Equal(lockBefore, File.ReadAllText(lockPath));

        // A normal build keeps the locked commit (reproducible); UpdateLock moves it and retrains.
        var pinned = project.Run("build");
        Assert.True(pinned.ExitCode == 0, pinned.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", pinned.Output);
        var update = project.Run("build", "-p:LoraBuildUpdateLock=true");
        Assert.True(update.ExitCode == 0, update.Output);
        Assert.Contains(moved, File.ReadAllText(lockPath));
        Assert.Contains("speller: step 6/6", update.Output);
    }
}
