using LoraBuild.SafeTensors;
using LoraBuild.Tests;
using static TorchSharp.torch;

namespace LoraBuild.Cli.Tests;

public class LogitsCommandTests
{
    public LogitsCommandTests() => TestPaths.EnsureTorch();

    public static TheoryData<string, string, string> Cases() => new()
    {
        { "llama", "", "logits" },
        { "llama3-rope-tied", "lora", "lora_logits" },
        { "mistral", "dora", "dora_logits" },
        { "qwen2", "lora+merge", "lora_merged_logits" },
        { "phi3", "dora+merge", "dora_merged_logits" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Logits_command_writes_golden_logits(string family, string adapter, string goldenKey)
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "logits.safetensors");
        var args = new List<string> { "logits", "--model", TestPaths.Hf(family), "--input-ids", TestPaths.Hf(family, "golden.safetensors"), "--out", output };
        if (adapter != "")
        {
            args.AddRange(["--adapter", TestPaths.Hf(family, "adapter-" + adapter.Split('+')[0])]);
            if (adapter.EndsWith("+merge")) args.Add("--merge");
        }
        var result = Worker.Run([.. args]);
        Assert.True(result.ExitCode == 0, result.StdErr);

        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        using var written = SafeTensorsFile.Open(output);
        Assert.Equal(SafeTensorDType.F32, written.Info("logits").DType);
        var diff = (written.Read("logits") - golden.Read(goldenKey)).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"{family} {adapter}: max diff {diff}");
    }

    [Fact]
    public void Errors_are_coded_and_name_the_file()
    {
        var missing = Path.Combine(TestPaths.TempDirectory(), "no-model");
        Directory.CreateDirectory(missing);
        var result = Worker.Run("logits", "--model", missing, "--input-ids", TestPaths.Hf("llama", "golden.safetensors"), "--out", Path.Combine(missing, "x"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{Path.Combine(missing, "config.json")}: error LB0030:", result.StdErr);
        Assert.False(File.Exists(Path.Combine(missing, "x")));
    }

    [Fact]
    public void Input_ids_of_the_wrong_type_are_refused()
    {
        var result = Worker.Run("logits", "--model", TestPaths.Hf("llama"), "--input-ids", TestPaths.Hf("llama", "adapter-lora", "adapter_model.safetensors"),
            "--out", Path.Combine(TestPaths.TempDirectory(), "x.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0091", result.StdErr);
    }
}
