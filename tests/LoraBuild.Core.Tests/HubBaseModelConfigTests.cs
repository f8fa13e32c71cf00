using LoraBuild.Training;

namespace LoraBuild.Tests;

/// <summary>base_model in YAML keeps the text as written, which the worker reads as a Hub id when no such folder exists.</summary>
public sealed class HubBaseModelConfigTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    [Fact]
    public void A_hub_id_with_axolotl_revision_of_model_is_kept_as_written()
    {
        var path = Path.Combine(dir, "hub.yaml");
        File.WriteAllText(path, "base_model: Qwen/Qwen3-0.6B\nrevision_of_model: v1.0\ndataset: data.jsonl\n");

        var config = TrainingConfigLoader.Load(path);

        Assert.Equal("Qwen/Qwen3-0.6B", config.BaseModelAsWritten);
        // No such folder beside the YAML: the id stays an id (the worker resolves it through the HF cache).
        Assert.Equal("Qwen/Qwen3-0.6B", config.BaseModel);
        Assert.Equal("v1.0", config.RevisionOfModel);
        Assert.Equal(Path.Combine(dir, "data.jsonl"), config.Dataset);
        // The revision does not decide the weights (the commit does), so it is not part of the fingerprint.
        Assert.DoesNotContain(config.DecidingSettings(), s => s.Key == "revision_of_model");
    }

    [Fact]
    public void A_folder_named_like_an_id_beside_the_yaml_is_a_path()
    {
        Directory.CreateDirectory(Path.Combine(dir, "models", "tiny"));
        var path = Path.Combine(dir, "local.yaml");
        File.WriteAllText(path, "base_model: models/tiny\ndataset: data.jsonl\n");

        var config = TrainingConfigLoader.Load(path);
        Assert.Equal(Path.Combine(dir, "models", "tiny"), config.BaseModel);
        Assert.True(Directory.Exists(config.BaseModel));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
