using LoraBuild.Diagnostics;
using LoraBuild.Training;

namespace LoraBuild.Tests;

public class TrainingConfigTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Yaml(string text)
    {
        var path = Path.Combine(dir, "adapter.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Keys_load_with_aliases_and_paths_relative_to_the_file()
    {
        // models/base exists: an org/name path that is not a local folder would be a Hub model id.
        Directory.CreateDirectory(Path.Combine(dir, "models", "base"));
        var path = Yaml("base_model: models/base\ndataset: data/train.jsonl\nrank: 16\nalpha: 32\nquantization: nf4\ntarget_modules: [q_proj, v_proj]\nrank_pattern:\n  down_proj: 4\nlr: 1e-4\n");
        var config = TrainingConfigLoader.Load(path);
        Assert.Equal(Path.Combine(dir, "models", "base"), config.BaseModel);
        Assert.Equal(16, config.R);
        Assert.Equal(32, config.LoraAlpha);
        Assert.Equal("nf4", config.Quantization);
        Assert.Equal(["q_proj", "v_proj"], config.TargetModules);
        Assert.Equal(4, config.RankPattern["down_proj"]);
        Assert.Equal(1e-4, config.LearningRate);
        var lora = config.ToLoraConfig();
        Assert.Equal((4, 32.0), lora.RankAndAlpha("model.layers.0.mlp.down_proj"));
        Assert.True(lora.Targets("model.layers.3.self_attn.v_proj", false));
        Assert.False(lora.Targets("model.layers.3.self_attn.k_proj", false));
    }

    [Fact]
    public void Unknown_key_names_the_key_file_and_line()
    {
        var path = Yaml("r: 8\n\nlearnin_rate: 0.1\n");
        var e = Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(path));
        Assert.Equal(ErrorCodes.ConfigKeyUnknown, e.Code);
        Assert.Equal((path, 3), (e.File, e.Line));
        Assert.Contains("'learnin_rate'", e.Message);
    }

    [Fact]
    public void Bad_value_names_the_key_file_and_line()
    {
        var path = Yaml("r: 8\nquantization: nf5\n");
        var e = Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(path));
        Assert.Equal(ErrorCodes.ConfigValueInvalid, e.Code);
        Assert.Equal(2, e.Line);
        Assert.Contains("'quantization' must be one of none, nf4", e.Message);
        Assert.Equal(ErrorCodes.ConfigValueInvalid, Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(Yaml("r: abc\n"))).Code);
        Assert.Equal(ErrorCodes.ConfigValueInvalid, Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(Yaml("r: 0\n"))).Code);
    }

    [Fact]
    public void Broken_yaml_names_the_line()
    {
        var path = Yaml("r: 8\nlora_alpha: [1, 2\n");
        var e = Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(path));
        Assert.Equal(ErrorCodes.ConfigFileInvalid, e.Code);
        Assert.True(e.Line >= 2);
    }

    [Fact]
    public void Fingerprint_settings_change_with_hyperparameters_but_not_with_output_or_cadence()
    {
        var a = new TrainingConfig();
        var b = new TrainingConfig { OutputDir = "elsewhere", SaveSteps = 7, LoggingSteps = 3 };
        Assert.Equal(a.DecidingSettings(), b.DecidingSettings());
        Assert.NotEqual(a.DecidingSettings(), new TrainingConfig { R = 16 }.DecidingSettings());
        Assert.NotEqual(a.DecidingSettings(), new TrainingConfig { Seed = 1 }.DecidingSettings());
    }

    [Theory]
    [InlineData("constant", 0, 0.0)]
    [InlineData("constant", 5, 1.0)]
    [InlineData("linear", 2, 0.2)]
    [InlineData("linear", 10, 1.0)]
    [InlineData("linear", 55, 0.5)]
    [InlineData("linear", 100, 0.0)]
    [InlineData("cosine", 55, 0.5)]
    [InlineData("cosine", 10, 1.0)]
    public void Schedules_follow_transformers(string kind, long step, double expected) =>
        Assert.Equal(expected, LearningRateSchedule.At(kind, step, totalSteps: 100, warmupSteps: kind == "constant" ? 5 : 10, peak: 1.0), 12);
}
