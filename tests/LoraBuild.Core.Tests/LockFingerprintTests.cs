using LoraBuild.Hub;

namespace LoraBuild.Tests;

/// <summary>
/// The SDK's up-to-date check fingerprints what lora.lock.json pins of the Hub datasets an adapter's config names: a
/// moved dataset entry retrains the adapters reading it and leaves the others up to date.
/// </summary>
public class LockFingerprintTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static LoraLockFile.LockedRepo Repo(string commit, string sha) =>
        new("main", commit, new SortedDictionary<string, LoraLockFile.LockedFile>(StringComparer.Ordinal) { ["data/train-00000-of-00001.parquet"] = new(sha, 1234) });

    [Fact]
    public void A_moved_dataset_entry_changes_the_lines_of_the_configs_naming_it_only()
    {
        const string config = "base_model: org/model\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\n";
        var lockFile = new LoraLockFile();
        lockFile.Datasets["tatsu-lab/alpaca"] = Repo("aaaa", "1111");
        lockFile.Datasets["other/chat"] = Repo("bbbb", "2222");
        var path = Path.Combine(dir, LoraLockFile.FileName);
        lockFile.Write(path);
        var before = LoraLockFile.TryRead(path)!.DatasetLinesFor(config).ToList();
        Assert.Equal(["dataset_lock/tatsu-lab/alpaca=main@aaaa", "dataset_lock/tatsu-lab/alpaca/data/train-00000-of-00001.parquet=1111"], before);

        // The other dataset moves: this config's lines stay.
        lockFile.Datasets["other/chat"] = Repo("cccc", "3333");
        lockFile.Write(path);
        Assert.Equal(before, LoraLockFile.TryRead(path)!.DatasetLinesFor(config));

        // Its own dataset moves: its lines change.
        lockFile.Datasets["tatsu-lab/alpaca"] = Repo("dddd", "4444");
        lockFile.Write(path);
        Assert.NotEqual(before, LoraLockFile.TryRead(path)!.DatasetLinesFor(config));
    }
}
