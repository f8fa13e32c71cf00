using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

public class NativeStartupTests
{
    [Fact]
    public void No_usable_libtorch_is_one_coded_error_listing_every_place_tried()
    {
        var empty = TestPaths.TempDirectory();
        var result = Worker.RunWithEnvironment(
            new Dictionary<string, string?>
            {
                ["TORCH_LIB_DIR"] = empty,
                ["LORABUILD_TORCH_BACKEND"] = "system",
                ["PATH"] = Path.GetDirectoryName(Environment.ProcessPath) ?? "/usr/bin", // no python here
            },
            "logits", "--model", TestPaths.Hf("llama"), "--input-ids", TestPaths.Hf("llama", "golden.safetensors"), "--out", Path.Combine(empty, "x.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0001", result.StdErr);
        Assert.Contains($"$TORCH_LIB_DIR={empty}: no libtorch.so", result.StdErr);
        Assert.Contains("$LORABUILD_TORCH_LIB_DIR: not set", result.StdErr);
        Assert.Contains("python3", result.StdErr);
        Assert.Single(result.StdErr.Split('\n'), l => l.Contains("error LB"));
    }
}
