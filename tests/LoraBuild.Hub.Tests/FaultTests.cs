using LoraBuild.Diagnostics;

namespace LoraBuild.Hub.Tests;

public sealed class FaultTests
{
    static byte[] Weights(TestHub hub) => File.ReadAllBytes(Path.Combine(hub.ModelFolder, "model.safetensors"));

    [Fact]
    public async Task A_connection_cut_mid_file_resumes_with_a_range_request()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Emulator.Faults.CutAfter("model.safetensors", 200_000, times: 2);
        using var client = hub.Client();

        var snapshot = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        Assert.Equal(Weights(hub), File.ReadAllBytes(Path.Combine(snapshot.Folder, "model.safetensors")));
        var gets = hub.Emulator.Requests.Where(r => r.Host == "cdn" && r.Method == "GET").ToList();
        Assert.Equal(3, gets.Count);
        Assert.Null(gets[0].Range);
        // Each resumed request starts where the bytes stopped, never from 0.
        Assert.All(gets.Skip(1), g => Assert.Matches(@"^bytes=[1-9]\d*-$", g.Range));
    }

    [Fact]
    public async Task An_incomplete_blob_left_by_a_killed_build_is_resumed_not_restarted()
    {
        await using var hub = await TestHub.StartAsync();
        var weights = Weights(hub);
        using var client = hub.Client();
        var etag = (await client.ListFilesAsync(TestHub.Model, hub.Commit)).Single(f => f.Path == "model.safetensors").Etag;
        var incomplete = client.Cache.IncompletePath(TestHub.Model, etag);
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        File.WriteAllBytes(incomplete, weights[..100_000]);

        var snapshot = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(snapshot.Folder, "model.safetensors")));
        Assert.Equal("bytes=100000-", hub.Emulator.Requests.Single(r => r.Host == "cdn" && r.Method == "GET").Range);
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public async Task A_blob_whose_sha256_does_not_match_is_refused_and_fetched_again()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Emulator.Faults.Corrupt("model.safetensors", times: 1);
        using var client = hub.Client();

        var snapshot = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        Assert.Equal(Weights(hub), File.ReadAllBytes(Path.Combine(snapshot.Folder, "model.safetensors")));
        Assert.Equal(2, hub.Emulator.Requests.Count(r => r.Host == "cdn" && r.Method == "GET"));
    }

    [Fact]
    public async Task A_blob_corrupted_every_time_is_a_coded_error_and_nothing_is_kept()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Emulator.Faults.Corrupt("model.safetensors", times: 5);
        using var client = hub.Client();

        var error = await Assert.ThrowsAsync<HubException>(() => client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted));

        Assert.Equal(ErrorCodes.HubChecksumMismatch, error.Code);
        Assert.Contains("model.safetensors", error.Message);
        var blobs = Path.Combine(hub.CacheDir, "models--test-org--tiny-llama", "blobs");
        Assert.DoesNotContain(Directory.EnumerateFiles(blobs), f => new FileInfo(f).Length == Weights(hub).Length || f.EndsWith(".incomplete"));
        Assert.False(File.Exists(Path.Combine(hub.CacheDir, "models--test-org--tiny-llama", "snapshots", hub.Commit, "model.safetensors")));
    }

    [Fact]
    public async Task A_503_and_a_429_are_retried_then_succeed()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Emulator.Faults.FailNext("/revision/main", 1, 503);
        hub.Emulator.Faults.FailNext("/resolve/", 2, 429);
        hub.Emulator.Faults.FailNext("/cdn/", 1, 502);
        using var client = hub.Client();

        var snapshot = await client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);

        Assert.Equal(Weights(hub), File.ReadAllBytes(Path.Combine(snapshot.Folder, "model.safetensors")));
        var statuses = hub.Emulator.Requests.Select(r => r.Status).ToList();
        Assert.Contains(503, statuses);
        Assert.Equal(2, statuses.Count(s => s == 429));
        Assert.Contains(502, statuses);
    }

    [Fact]
    public async Task Two_downloads_of_the_same_model_at_once_end_with_one_intact_copy()
    {
        await using var hub = await TestHub.StartAsync();
        // Slow chunks so both downloads are in flight together.
        hub.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(150);
        using var first = hub.Client();
        using var second = hub.Client();

        var both = await Task.WhenAll(
            Task.Run(() => first.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted)),
            Task.Run(() => second.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted)));

        Assert.Equal(both[0].Folder, both[1].Folder);
        Assert.Equal(Weights(hub), File.ReadAllBytes(Path.Combine(both[0].Folder, "model.safetensors")));
        var blobs = Directory.GetFiles(Path.Combine(hub.CacheDir, "models--test-org--tiny-llama", "blobs"));
        Assert.Equal(5, blobs.Length);
        // The lock made the second wait and find the blob: the weights crossed the wire once.
        Assert.Equal(1, hub.Emulator.Requests.Count(r => r.Host == "cdn" && r.Method == "GET"));
    }
}
