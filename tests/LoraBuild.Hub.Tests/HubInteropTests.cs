namespace LoraBuild.Hub.Tests;

/// <summary>
/// The other direction of each cache: @huggingface/hub (a real client) downloads from the emulator into a cache that
/// LoraBuild then uses offline, and scans a cache LoraBuild filled. This checks the emulator speaks the protocol a real
/// client expects, and that LoraBuild's cache is the one the Hugging Face tools share.
/// </summary>
public sealed class HubInteropTests
{
    [Fact]
    public async Task A_cache_filled_by_huggingface_js_is_used_by_LoraBuild_without_the_network()
    {
        await using var hub = await TestHub.StartAsync();

        using var js = await NodeOracle.RunAsync("snapshot", hub.Emulator.HubUrl, hub.CacheDir, "model", TestHub.ModelId, "main");
        Assert.Equal(Path.Combine(hub.CacheDir, "models--test-org--tiny-llama", "snapshots", hub.Commit), js.RootElement.GetProperty("folder").GetString());

        using var offline = hub.Client(offline: true);
        var snapshot = await offline.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        Assert.Equal(hub.Commit, snapshot.Commit);
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
            snapshot.Files.Select(f => f.Path));
        foreach (var file in snapshot.Files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(hub.ModelFolder, file.Path)), File.ReadAllBytes(Path.Combine(snapshot.Folder, file.Path)));
        using var online = hub.Client();
        var listed = await online.ListFilesAsync(TestHub.Model, hub.Commit);
        // JS named the blobs as LoraBuild does: LFS sha256 or git oid.
        Assert.Equal(listed.Single(f => f.Path == "model.safetensors").Sha256, snapshot.Files.Single(f => f.Path == "model.safetensors").Sha256);

        // Online, LoraBuild finds every file already there: no bytes cross the wire again.
        var before = hub.Emulator.Requests.Count;
        await online.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        Assert.DoesNotContain(hub.Emulator.Requests.Skip(before), r => r.Host == "cdn" || r.Path.Contains("/resolve/"));
    }

    [Fact]
    public async Task A_cache_filled_by_LoraBuild_is_read_by_huggingface_js_scanCacheDir()
    {
        await using var hub = await TestHub.StartAsync();
        var data = Path.Combine(hub.Root, "dataset");
        Directory.CreateDirectory(Path.Combine(data, "data"));
        File.WriteAllBytes(Path.Combine(data, "data", "train.parquet"), new byte[777]);
        var datasetCommit = hub.Emulator.AddDataset("test-org/tiny-chat", data);
        using var client = hub.Client();
        var snapshot = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        var parquet = await client.DownloadFileAsync(new RepoId(RepoType.Dataset, "test-org/tiny-chat"), "main", "data/train.parquet");

        using var scan = await NodeOracle.RunAsync("scan", hub.CacheDir);

        Assert.Empty(scan.RootElement.GetProperty("warnings").EnumerateArray());
        var repos = scan.RootElement.GetProperty("repos").EnumerateArray().OrderBy(r => r.GetProperty("type").GetString()).ToList();
        Assert.Equal(["dataset", "model"], repos.Select(r => r.GetProperty("type").GetString()));
        Assert.Equal(["test-org/tiny-chat", TestHub.ModelId], repos.Select(r => r.GetProperty("name").GetString()));

        var model = repos[1].GetProperty("revisions").EnumerateArray().Single();
        Assert.Equal(hub.Commit, model.GetProperty("commit").GetString());
        Assert.Equal(["main"], model.GetProperty("refs").EnumerateArray().Select(r => r.GetString()));
        var files = model.GetProperty("files").EnumerateArray().ToDictionary(f => Path.GetFileName(f.GetProperty("path").GetString()!));
        Assert.Equal(snapshot.Files.Select(f => f.Path).Order(), files.Keys.Order());
        foreach (var file in snapshot.Files)
        {
            // scanCacheDir follows each link to its blob: the one LoraBuild named by the etag, with the file's size.
            Assert.Equal(client.Cache.BlobPath(TestHub.Model, file.Etag), files[file.Path].GetProperty("blob").GetString());
            Assert.Equal(file.Size, files[file.Path].GetProperty("size").GetInt64());
        }
        Assert.Equal(snapshot.Files.Sum(f => f.Size), repos[1].GetProperty("size").GetInt64());

        var dataset = repos[0].GetProperty("revisions").EnumerateArray().Single();
        Assert.Equal(datasetCommit, dataset.GetProperty("commit").GetString());
        // Files in subfolders are not listed by scanCacheDir (it does not recurse); the revision and ref are.
        Assert.Equal(["main"], dataset.GetProperty("refs").EnumerateArray().Select(r => r.GetString()));
        Assert.True(File.Exists(parquet));
    }
}
