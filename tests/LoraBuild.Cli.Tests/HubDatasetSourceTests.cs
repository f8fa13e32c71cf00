using LoraBuild.Diagnostics;
using LoraBuild.Hub;
using LoraBuild.Tests;
using LoraBuild.Training.Data;
using LoraBuild.Training.Data.Hub;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// Hub datasets pinned in lora.lock.json, in process against the Hub emulator: a locked commit is reused without a request
/// (also offline), locked mode fails when the lock lacks the dataset or its branch moved, updating takes the new commit,
/// and a repository without readable data files or without the split is a coded error.
/// </summary>
public class HubDatasetSourceTests : IAsyncLifetime
{
    const string Id = "test-org/rows";
    readonly string root = TestPaths.TempDirectory();
    HubEmulator.HubEmulator hub = null!;

    public async Task InitializeAsync() => hub = await HubEmulator.HubEmulator.StartAsync();

    public async Task DisposeAsync()
    {
        await hub.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    string Push(string text, string branch = "main", string file = "data/train.jsonl")
    {
        var folder = Path.Combine(root, "repo-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, file))!);
        File.WriteAllText(Path.Combine(folder, file), text);
        return hub.AddDataset(Id, folder, branch);
    }

    HubClient Client(bool offline = false) => new(new HubSettings
    {
        Endpoint = hub.HubUrl, CacheDir = Path.Combine(root, "cache"), Offline = offline, RetryDelay = TimeSpan.FromMilliseconds(5),
    });

    string LockPath => Path.Combine(root, LoraLockFile.FileName);

    /// <summary>A source over the lock file on disk, as one worker run makes it; saves the lock afterwards unless locked.</summary>
    IReadOnlyList<RawExample> Read(DatasetSpec spec, bool locked = false, bool update = false, bool offline = false)
    {
        using var client = Client(offline);
        var lockFile = LoraLockFile.TryRead(LockPath) ?? new LoraLockFile();
        var source = new HubDatasetSource(client, new DatasetLock(lockFile, LockPath, locked, update));
        var examples = DatasetLoader.Load([spec], source);
        if (!locked) lockFile.Write(LockPath);
        return examples;
    }

    static DatasetSpec Spec(string? split = null) => new(Id, "c.yml", 4, 3) { IsHub = true, Type = "completion", Split = split };

    [Fact]
    public void A_locked_commit_is_reused_without_a_request_until_the_lock_is_updated()
    {
        var first = Push("{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
        Assert.Equal(["one", "two"], Read(Spec()).Select(e => e.Text));
        Assert.Equal(first, LoraLockFile.TryRead(LockPath)!.Datasets[Id].Commit);

        var moved = Push("{\"text\": \"three\"}\n");
        var requests = hub.Requests.Count;
        Assert.Equal(["one", "two"], Read(Spec()).Select(e => e.Text)); // the lock's commit, from the cache
        Assert.Equal(requests, hub.Requests.Count);
        Assert.Equal(["one", "two"], Read(Spec(), offline: true).Select(e => e.Text));

        var e = Assert.Throws<HubException>(() => Read(Spec(), locked: true));
        Assert.Equal(ErrorCodes.LockFileOutOfDate, e.Code);
        Assert.Contains($"moved from {first} (locked) to {moved}", e.Message);

        Assert.Equal(["three"], Read(Spec(), update: true).Select(x => x.Text));
        Assert.Equal(moved, LoraLockFile.TryRead(LockPath)!.Datasets[Id].Commit);
        Assert.Equal(["three"], Read(Spec(), locked: true).Select(x => x.Text));
    }

    [Fact]
    public void Locked_mode_without_an_entry_fails_and_writes_nothing()
    {
        Push("{\"text\": \"one\"}\n");
        var e = Assert.Throws<HubException>(() => Read(Spec(), locked: true));
        Assert.Equal((ErrorCodes.LockFileMissing, LockPath), (e.Code, e.File));
        Assert.False(File.Exists(LockPath));
    }

    [Fact]
    public void A_split_slice_reads_its_rows_and_a_missing_split_names_those_there_are()
    {
        Push("{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\"}\n{\"text\": \"d\"}\n");
        Assert.Equal(["c", "d"], Read(Spec("train[50%:]")).Select(e => e.Text));
        var e = Assert.Throws<LoraBuildException>(() => Read(Spec("validation")));
        Assert.Equal((ErrorCodes.HubDatasetSplitMissing, "c.yml", 4), (e.Code, e.File, e.Line));
        Assert.Contains("splits: train", e.Message);
    }

    [Fact]
    public void A_repository_with_only_a_loading_script_and_no_conversion_is_a_coded_error()
    {
        Push("import datasets\n", file: "rows.py");
        var e = Assert.Throws<LoraBuildException>(() => Read(Spec()));
        Assert.Equal(ErrorCodes.HubDatasetNoDataFiles, e.Code);
        Assert.Contains("no refs/convert/parquet branch", e.Message);
    }
}
