using System.Security.Cryptography;

namespace LoraBuild.Hub.Tests;

public sealed class SnapshotDownloadTests
{
    [Fact]
    public async Task Downloads_the_model_files_into_huggingface_hub_cache_layout()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = hub.Client(token: "hf_secret");

        var snapshot = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        Assert.Equal(hub.Commit, snapshot.Commit);
        var repoFolder = Path.Combine(hub.CacheDir, "models--test-org--tiny-llama");
        Assert.Equal(Path.Combine(repoFolder, "snapshots", hub.Commit), snapshot.Folder);
        Assert.Equal(hub.Commit, File.ReadAllText(Path.Combine(repoFolder, "refs", "main")));
        // Only what a model needs: no pickles, GGUF, ONNX, original/ or README.
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
            snapshot.Files.Select(f => f.Path).Order(StringComparer.Ordinal));
        foreach (var file in snapshot.Files)
        {
            var link = Path.Combine(snapshot.Folder, file.Path);
            var target = new FileInfo(link).LinkTarget;
            // Relative symlinks into blobs/, named by the etag, with the source bytes.
            Assert.Equal(Path.Combine("..", "..", "blobs", file.Etag), target);
            Assert.Equal(File.ReadAllBytes(Path.Combine(hub.ModelFolder, file.Path)), File.ReadAllBytes(link));
        }
        var weights = snapshot.Files.Single(f => f.Path == "model.safetensors");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(hub.ModelFolder, "model.safetensors")))), weights.Sha256);
        Assert.Equal(weights.Sha256, weights.Etag);
        Assert.Null(snapshot.Files.Single(f => f.Path == "config.json").Sha256);
        Assert.False(Directory.EnumerateFiles(repoFolder, "*.incomplete", SearchOption.AllDirectories).Any());

        // The weights came from the CDN host, through the 302, without the token; the Hub's own host got it.
        var requests = hub.Emulator.Requests.ToList();
        Assert.Contains(requests, r => r.Host == "cdn" && r.Method == "GET" && r.Path.EndsWith("/" + weights.Sha256));
        Assert.All(requests.Where(r => r.Host == "cdn"), r => Assert.Null(r.Authorization));
        Assert.All(requests.Where(r => r.Host == "hub"), r => Assert.Equal("Bearer hf_secret", r.Authorization));
        Assert.Contains(requests, r => r.Host == "hub" && r.Method == "HEAD" && r.Path.EndsWith("/resolve/" + hub.Commit + "/model.safetensors") && r.Status == 302);
    }

    [Fact]
    public async Task A_second_resolution_and_offline_mode_use_the_cache_without_downloading_again()
    {
        await using var hub = await TestHub.StartAsync();
        using (var client = hub.Client()) await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        var before = hub.Emulator.Requests.Count;

        using (var again = hub.Client()) await again.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        Assert.DoesNotContain(hub.Emulator.Requests.Skip(before), r => r.Method == "GET" && r.Path.Contains("/resolve/") || r.Host == "cdn");

        var count = hub.Emulator.Requests.Count;
        using var offline = hub.Client(offline: true);
        var snapshot = await offline.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        Assert.Equal(count, hub.Emulator.Requests.Count);
        Assert.Equal(hub.Commit, snapshot.Commit);
        Assert.Equal(5, snapshot.Files.Count);
        var weights = snapshot.Files.Single(f => f.Path == "model.safetensors");
        Assert.Equal(new FileInfo(Path.Combine(hub.ModelFolder, "model.safetensors")).Length, weights.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(hub.ModelFolder, "model.safetensors")))), weights.Sha256);
        // The same by commit, as a locked build asks.
        Assert.Equal(5, offline.FromCache(TestHub.Model, hub.Commit, ModelFiles.IsWanted)!.Files.Count);
    }

    [Fact]
    public async Task A_moved_branch_resolves_to_the_new_commit_and_keeps_the_old_snapshot()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = hub.Client();
        var first = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        File.WriteAllText(Path.Combine(hub.ModelFolder, "generation_config.json"), "{\"max_new_tokens\": 7}");
        var moved = hub.Emulator.AddModel(TestHub.ModelId, hub.ModelFolder);
        var second = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        Assert.NotEqual(first.Commit, second.Commit);
        Assert.Equal(moved, second.Commit);
        Assert.Equal("{\"max_new_tokens\": 7}", File.ReadAllText(Path.Combine(second.Folder, "generation_config.json")));
        Assert.NotEqual("{\"max_new_tokens\": 7}", File.ReadAllText(Path.Combine(first.Folder, "generation_config.json")));
        // Unchanged files share their blob.
        Assert.Equal(new FileInfo(Path.Combine(first.Folder, "model.safetensors")).LinkTarget, new FileInfo(Path.Combine(second.Folder, "model.safetensors")).LinkTarget);
        // The old commit is still reachable by its hash.
        var pinned = await client.DownloadSnapshotAsync(TestHub.Model, first.Commit, ModelFiles.IsWanted);
        Assert.Equal(first.Commit, pinned.Commit);
    }

    [Fact]
    public async Task Dataset_repos_use_their_own_api_urls_and_cache_folders()
    {
        await using var hub = await TestHub.StartAsync();
        var data = Path.Combine(hub.Root, "dataset");
        Directory.CreateDirectory(Path.Combine(data, "data"));
        File.WriteAllBytes(Path.Combine(data, "data", "train-00000-of-00001.parquet"), [80, 65, 82, 49, 1, 2, 3, 80, 65, 82, 49]);
        File.WriteAllText(Path.Combine(data, "README.md"), "---\nlicense: mit\n---\n");
        var commit = hub.Emulator.AddDataset("test-org/tiny-chat", data);
        using var client = hub.Client();
        var repo = new RepoId(RepoType.Dataset, "test-org/tiny-chat");

        var path = await client.DownloadFileAsync(repo, "main", "data/train-00000-of-00001.parquet");
        var files = await client.ListFilesAsync(repo, commit);

        Assert.Equal(Path.Combine(hub.CacheDir, "datasets--test-org--tiny-chat", "snapshots", commit, "data", "train-00000-of-00001.parquet"), path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(data, "data", "train-00000-of-00001.parquet")), File.ReadAllBytes(path));
        Assert.Equal(Path.Combine("..", "..", "..", "blobs", files.Single(f => f.Path.EndsWith(".parquet")).Etag), new FileInfo(path).LinkTarget);
        Assert.Contains(hub.Emulator.Requests, r => r.Method == "HEAD" && r.Path == "/datasets/test-org/tiny-chat/resolve/main/data/train-00000-of-00001.parquet");
        Assert.Equal(["README.md", "data/train-00000-of-00001.parquet"], files.Select(f => f.Path).Order(StringComparer.Ordinal));
    }
}
