using LoraBuild.Diagnostics;

namespace LoraBuild.Hub.Tests;

public sealed class LockFileTests
{
    [Fact]
    public void The_lock_round_trips_sorted_and_is_rewritten_only_when_it_changes()
    {
        var path = Path.Combine(Path.GetTempPath(), "lorabuild-lock-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            var lockFile = new LoraLockFile();
            lockFile.Models["z-org/model"] = new("main", new string('b', 40), new(StringComparer.Ordinal) { ["model.safetensors"] = new(new string('c', 64), 42) });
            lockFile.Models["a-org/model"] = new("v1", new string('a', 40), new(StringComparer.Ordinal));
            Assert.True(lockFile.Write(path));
            var text = File.ReadAllText(path);
            Assert.True(text.IndexOf("a-org/model", StringComparison.Ordinal) < text.IndexOf("z-org/model", StringComparison.Ordinal));
            Assert.Contains("\"version\": 1", text);

            var read = LoraLockFile.TryRead(path)!;
            Assert.Equal(new string('b', 40), read.Models["z-org/model"].Commit);
            Assert.Equal(42, read.Models["z-org/model"].Files["model.safetensors"].Size);
            Assert.Equal("v1", read.Models["a-org/model"].Revision);
            Assert.False(read.Write(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_broken_lock_is_LB0422_naming_the_file_and_a_missing_one_is_null()
    {
        var path = Path.Combine(Path.GetTempPath(), "lorabuild-lock-" + Guid.NewGuid().ToString("N") + ".json");
        Assert.Null(LoraLockFile.TryRead(path));
        try
        {
            File.WriteAllText(path, "{\"version\": 1, \"models\": {\"org/x\": {\"revision\": \"main\"");
            var error = Assert.Throws<HubException>(() => LoraLockFile.TryRead(path));
            Assert.Equal(ErrorCodes.LockFileInvalid, error.Code);
            Assert.StartsWith(path + ": error LB0422:", error.ToString());

            File.WriteAllText(path, "{\"version\": 7, \"models\": {}}");
            Assert.Contains("version 7", Assert.Throws<HubException>(() => LoraLockFile.TryRead(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
