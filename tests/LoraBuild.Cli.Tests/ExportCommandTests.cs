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

    /// <summary>The Modelfile's directives (comments dropped); the stop token is the fixture's tokenizer_config.json eos_token.</summary>
    static string[] Directives(string modelfile) => File.ReadAllLines(modelfile).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();

    static string FixtureEos(string model)
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Hf(model), "tokenizer_config.json")));
        return config.RootElement.GetProperty("eos_token").GetString()!;
    }

    [Fact]
    public void An_adapter_export_writes_an_ollama_modelfile_naming_base_adapter_and_stop_tokens()
    {
        var output = Path.Combine(dir, "adapter.gguf");
        var modelfile = Path.Combine(dir, "Modelfile");
        var result = Worker.Run("export", "gguf", "--model", TestPaths.Hf("qwen3"), "--adapter", TestPaths.Hf("qwen3", "adapter-lora"),
            "--out", output, "--outtype", "f32", "--modelfile", modelfile);
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Equal("GGUF"u8.ToArray(), File.ReadAllBytes(output)[..4]);
        Assert.Equal(["FROM ./base.gguf", "ADAPTER ./adapter.gguf", $"PARAMETER stop \"{FixtureEos("qwen3")}\""], Directives(modelfile));
        var text = File.ReadAllText(modelfile);
        // The placeholder says how to write the base GGUF; no TEMPLATE is guessed, and the file says why.
        Assert.Contains($"lorabuild export gguf --model {Path.GetFullPath(TestPaths.Hf("qwen3"))} --out base.gguf", text);
        Assert.Contains("# No TEMPLATE:", text);
        Assert.Equal(["Modelfile", "adapter.gguf"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // A given base: FROM names it; a merged export is its own FROM, with no ADAPTER.
        Assert.Equal(0, Worker.Run("export", "gguf", "--model", TestPaths.Hf("qwen3"), "--adapter", TestPaths.Hf("qwen3", "adapter-lora"),
            "--out", output, "--modelfile", modelfile, "--modelfile-from", "qwen3:0.6b").ExitCode);
        Assert.Equal(["FROM qwen3:0.6b", "ADAPTER ./adapter.gguf"], Directives(modelfile)[..2]);
        var merged = Path.Combine(dir, "gguf", "merged.gguf");
        Assert.Equal(0, Worker.Run("export", "gguf", "--model", TestPaths.Hf("qwen3"), "--adapter", TestPaths.Hf("qwen3", "adapter-lora"), "--merge",
            "--out", merged, "--modelfile", Path.Combine(dir, "gguf", "Modelfile")).ExitCode);
        Assert.Equal(["FROM ./merged.gguf", $"PARAMETER stop \"{FixtureEos("qwen3")}\""], Directives(Path.Combine(dir, "gguf", "Modelfile")));
    }

    [Fact]
    public void Modelfile_from_without_an_adapter_export_is_a_coded_error()
    {
        var result = Worker.Run("export", "gguf", "--model", TestPaths.Hf("qwen3"), "--out", Path.Combine(dir, "m.gguf"),
            "--modelfile", Path.Combine(dir, "Modelfile"), "--modelfile-from", "x.gguf");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0608", result.StdErr);
        Assert.Empty(Directory.GetFiles(dir));
    }
}
