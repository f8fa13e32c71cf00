using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// Under LORABUILD_GC_TORTURE=1 (full collections and finalizers in a tight loop) a native scalar freed while libtorch
/// reads it crashes at once: before the ownership rules (docs/native.md) this QLoRA run died at step 2 in
/// c10::Scalar::toFloat. Now it finishes, and its adapter is byte-identical to the same run without torture.
/// </summary>
public class GcTortureTests
{
    static readonly Dictionary<string, string?> Torture = new() { ["LORABUILD_GC_TORTURE"] = "1" };

    [Fact]
    public void QLoRA_training_and_logits_under_GC_torture_finish_and_equal_the_untortured_runs()
    {
        var work = TestPaths.TempDirectory();
        try
        {
            var data = Path.Combine(work, "facts.jsonl");
            File.WriteAllLines(data, ["{\"prompt\":\"red:\",\"completion\":\" apple\"}", "{\"prompt\":\"blue:\",\"completion\":\" sky\"}",
                "{\"prompt\":\"green:\",\"completion\":\" grass\"}", "{\"prompt\":\"white:\",\"completion\":\" snow\"}"]);
            string Train(string name, IReadOnlyDictionary<string, string?> environment)
            {
                var output = Path.Combine(work, name);
                var result = Worker.RunWithEnvironment(environment, "train", "--model", TestPaths.Hf("gemma3"), "--dataset", data, "--out", output,
                    "--rank", "8", "--alpha", "16", "--steps", "4", "--lr", "1e-2", "--seed", "1", "--quantization", "nf4",
                    "--set", "micro_batch_size=4", "--set", "save_steps=0", "--set", "logging_steps=1");
                Assert.True(result.ExitCode == 0, result.StdErr + result.StdOut);
                return Path.Combine(output, "adapter", "adapter_model.safetensors");
            }
            var plain = Train("plain", new Dictionary<string, string?>());
            var tortured = Train("tortured", Torture);
            Assert.Equal(File.ReadAllBytes(plain), File.ReadAllBytes(tortured));

            byte[] Logits(string name, IReadOnlyDictionary<string, string?> environment)
            {
                var output = Path.Combine(work, name + ".safetensors");
                var result = Worker.RunWithEnvironment(environment, "logits", "--model", TestPaths.Hf("gemma3"), "--adapter", Path.GetDirectoryName(plain)!,
                    "--input-ids", TestPaths.Hf("gemma3", "golden.safetensors"), "--out", output);
                Assert.True(result.ExitCode == 0, result.StdErr + result.StdOut);
                return File.ReadAllBytes(output);
            }
            Assert.Equal(Logits("plain-logits", new Dictionary<string, string?>()), Logits("tortured-logits", Torture));
        }
        finally { Directory.Delete(work, true); }
    }
}
