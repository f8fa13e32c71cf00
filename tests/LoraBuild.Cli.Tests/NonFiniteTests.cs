using System.Buffers.Binary;
using System.Text.Json;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// NaN or Inf in a weight — one value or all, in an adapter or in the base — is a coded error naming the file and the
/// tensor, never exit 0 with non-finite logits; a loss that turns non-finite stops training and keeps the last good checkpoint.
/// </summary>
public class NonFiniteTests
{
    /// <summary>Copies <paramref name="folder"/> and writes <paramref name="value"/> into the named tensor (all of it, or its first element).</summary>
    static string Poisoned(string folder, string file, string tensor, float value, bool all)
    {
        var copy = TestPaths.TempDirectory();
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var path = Path.Combine(copy, file);
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var entry = header.RootElement.GetProperty(tensor);
        Assert.Equal("F32", entry.GetProperty("dtype").GetString());
        var (begin, end) = (entry.GetProperty("data_offsets")[0].GetInt64(), entry.GetProperty("data_offsets")[1].GetInt64());
        for (var at = begin; at < (all ? end : begin + 4); at += 4) BitConverter.GetBytes(value).CopyTo(bytes, 8 + headerLength + at);
        File.WriteAllBytes(path, bytes);
        return copy;
    }

    [Theory]
    [InlineData("adapter", float.NaN, false)]
    [InlineData("adapter", float.PositiveInfinity, true)]
    [InlineData("base", float.NegativeInfinity, false)]
    [InlineData("base", float.NaN, true)]
    public void A_non_finite_weight_is_refused_by_name(string where, float value, bool all)
    {
        var model = TestPaths.Hf("llama");
        var adapter = TestPaths.Hf("llama", "adapter-lora");
        string file, tensor;
        if (where == "adapter")
        {
            (file, tensor) = ("adapter_model.safetensors", "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
            adapter = Poisoned(adapter, file, tensor, value, all);
        }
        else
        {
            (file, tensor) = ("model.safetensors", "model.layers.1.mlp.down_proj.weight");
            model = Poisoned(model, file, tensor, value, all);
        }
        var output = Path.Combine(TestPaths.TempDirectory(), "logits.safetensors");
        var result = Worker.Run("logits", "--model", model, "--adapter", adapter, "--input-ids", TestPaths.Hf("llama", "golden.safetensors"), "--out", output);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0022", result.StdErr);
        Assert.Contains(file, result.StdErr);
        Assert.Contains($"'{tensor}'", result.StdErr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void A_loss_that_turns_non_finite_stops_training_and_keeps_the_last_good_checkpoint()
    {
        var work = TestPaths.TempDirectory();
        var data = Path.Combine(work, "facts.jsonl");
        File.WriteAllLines(data, ["{\"prompt\":\"red:\",\"completion\":\" apple\"}", "{\"prompt\":\"blue:\",\"completion\":\" sky\"}"]);
        var output = Path.Combine(work, "run");
        // A real divergence needs a model and data made for it; the fault switch gives step 3 the NaN loss a diverging run has.
        var result = Worker.RunWithEnvironment(new Dictionary<string, string?> { ["LORABUILD_FAULT_NAN_LOSS_AT_STEP"] = "3" },
            "train", "--model", TestPaths.Hf("llama"), "--dataset", data, "--out", output, "--rank", "8", "--alpha", "16",
            "--steps", "6", "--lr", "1e-3", "--seed", "1", "--set", "micro_batch_size=2", "--set", "save_steps=1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0130", result.StdErr);
        Assert.Contains("The last good checkpoint is kept at", result.StdErr);
        var kept = result.StdErr[(result.StdErr.IndexOf("kept at ", StringComparison.Ordinal) + 8)..].Split(". ")[0];
        Assert.True(Directory.Exists(kept), kept);
        Assert.EndsWith("2", kept); // step 2's checkpoint: the last before the loss went bad
        Assert.False(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")), "no adapter from a diverged run");
    }
}
