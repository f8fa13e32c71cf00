using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// An adapter whose Config reads a Hub dataset: real builds with the real worker against the Hub emulator. The run pins
/// the dataset in lora.lock.json; the rebuild is a no-op (the stamp carries the fingerprint with the pinned entry); a
/// lock moved to another commit of the dataset (a teammate's commit of lora.lock.json) retrains on that commit's rows.
/// </summary>
public class HubDatasetLockTests
{
    [Fact]
    public async Task A_config_reading_a_hub_dataset_is_up_to_date_after_its_run_and_retrains_when_the_lock_moves()
    {
        await using var hub = await HubEmulator.HubEmulator.StartAsync();
        var project = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" Config="speller.yml" />
              </ItemGroup>
            """, fakeWorker: false);
        const string datasetId = "test-org/spell-rows";
        var repo = Path.Combine(project.Directory, "dataset-repo");
        Directory.CreateDirectory(Path.Combine(repo, "data"));
        var rows = File.ReadAllLines(Path.Combine(project.Directory, "data", "spell-train.jsonl"));
        File.WriteAllLines(Path.Combine(repo, "data", "train.jsonl"), rows.Take(200));
        var firstCommit = hub.AddDataset(datasetId, repo);
        File.WriteAllText(Path.Combine(project.Directory, "speller.yml"), $"""
            base_model: models/base
            datasets:
              - path: {datasetId}
            lora_r: 4
            lora_alpha: 8
            micro_batch_size: 16
            max_steps: 3
            sequence_len: 32
            learning_rate: 0.002
            val_set_size: 0
            """);
        project.Environment["HF_ENDPOINT"] = hub.HubUrl;
        project.Environment["HF_HUB_CACHE"] = Path.Combine(project.Directory, "hf-cache");
        project.Environment["HF_TOKEN"] = null;
        project.Environment["HF_HUB_OFFLINE"] = null;
        project.Environment["LORABUILD_CACHE_DIR"] = Path.Combine(project.Directory, "lorabuild-cache");

        var build = project.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("speller: step 3/3", build.Output);
        Assert.Contains("train data: 200 examples", build.Output);
        var lockPath = Path.Combine(project.Directory, "lora.lock.json");
        Assert.Equal(firstCommit, JsonNode.Parse(File.ReadAllText(lockPath))!["datasets"]![datasetId]!["commit"]!.GetValue<string>());

        // The run pinned the dataset; the next build (offline) is up to date.
        project.Environment["HF_HUB_OFFLINE"] = "1";
        var again = project.Run("build");
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", again.Output);
        Assert.DoesNotContain("speller: step", again.Output);

        // The dataset gets a new commit and the lock is moved to it (as a teammate's committed lock would be): retrains.
        File.WriteAllLines(Path.Combine(repo, "data", "train.jsonl"), rows.Take(150));
        var secondCommit = hub.AddDataset(datasetId, repo);
        var lockJson = JsonNode.Parse(File.ReadAllText(lockPath))!;
        var entry = lockJson["datasets"]![datasetId]!;
        entry["commit"] = secondCommit;
        var file = entry["files"]!["data/train.jsonl"]!;
        var bytes = File.ReadAllBytes(Path.Combine(repo, "data", "train.jsonl"));
        file["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes));
        file["size"] = bytes.LongLength;
        File.WriteAllText(lockPath, lockJson.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        project.Environment["HF_HUB_OFFLINE"] = null;
        var moved = project.Run("build");
        Assert.True(moved.ExitCode == 0, moved.Output);
        Assert.Contains("speller: step 3/3", moved.Output);
        Assert.Contains("train data: 150 examples", moved.Output);

        project.Environment["HF_HUB_OFFLINE"] = "1";
        var last = project.Run("build");
        Assert.True(last.ExitCode == 0, last.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", last.Output);
    }
}
