using LoraBuild.Events;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary><c>lorabuild export gguf</c> as a process: its progress events and its coded errors, which leave no file behind.</summary>
public class ExportCommandTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Reports_progress_per_tensor_as_worker_events_and_writes_a_gguf_file()
    {
        var output = Path.Combine(dir, "qwen3.gguf");
        var result = Worker.RunWithEnvironment(new Dictionary<string, string?> { [WorkerEventChannel.EnvironmentVariable] = "1" },
            "export", "gguf", "--model", TestPaths.Hf("qwen3"), "--out", output, "--outtype", "q8_0");
        Assert.True(result.ExitCode == 0, result.StdErr);
        var events = result.StdOut.Split('\n').Select(l => WorkerEventChannel.TryParse(l.TrimEnd('\r'), out var e) ? e : null).OfType<WorkerEvent>().ToList();
        var progress = events.Where(e => e.Phase == "export" && e.Unit == "tensors").ToList();
        // qwen3 fixture: embedding, final norm, head, and 11 tensors in each of its 3 layers.
        Assert.Equal(3 + 3 * 11, progress.Count);
        Assert.Equal(Enumerable.Range(1, progress.Count).Select(i => (long?)i), progress.Select(e => e.Current));
        Assert.All(progress, e => Assert.Equal((long?)progress.Count, e.Total));
        Assert.Contains(events, e => e.Phase == "export" && e.Kind == WorkerEventKinds.Result);
        Assert.Equal("GGUF"u8.ToArray(), File.ReadAllBytes(output)[..4]);
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void A_dora_adapter_alone_is_a_coded_error_and_writes_nothing()
    {
        var output = Path.Combine(dir, "dora.gguf");
        var result = Worker.Run("export", "gguf", "--model", TestPaths.Hf("llama"), "--adapter", TestPaths.Hf("llama", "adapter-dora"), "--out", output);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0604", result.StdErr);
        Assert.Contains("--merge", result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void Merge_without_an_adapter_is_a_coded_error()
    {
        var result = Worker.Run("export", "gguf", "--model", TestPaths.Hf("llama"), "--merge", "--out", Path.Combine(dir, "m.gguf"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0606", result.StdErr);
        Assert.Empty(Directory.GetFiles(dir));
    }
}
