using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Training;

namespace LoraBuild.Tests;

/// <summary>Hostile and foreign YAML: every problem a located, coded error (all of a file at once); Axolotl spellings mapped.</summary>
public class TrainingConfigInputTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Yaml(string text)
    {
        var path = Path.Combine(dir, "adapter.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    LoraBuildException Fails(string text) => Assert.Throws<LoraBuildException>(() => TrainingConfigLoader.Load(Yaml(text)));

    [Theory]
    [InlineData("r: 8\n[a, b]: 1\n", "LB0120", 2, 1, "A key must be a plain name")]
    [InlineData("rank_pattern: {[a]: 4}\n", "LB0121", 1, 16, "'rank_pattern': a key must be a plain name")]
    [InlineData("r: 8\ntarget_modules: '(unclosed'\n", "LB0121", 2, 1, "'target_modules' must be module names, all-linear or a valid regular expression")]
    [InlineData("lora_dropout: 1.5\n", "LB0121", 1, 1, "'lora_dropout' must be a number >= 0 and < 1; got '1.5'")]
    [InlineData("r: 2147483647\n", "LB0121", 1, 1, "'r' must be an integer from 1 to 16384; got '2147483647'")]
    [InlineData("num_epochs: 1e300\n", "LB0121", 1, 1, "'num_epochs' must be a number >= 0 and <= 100000; got '1e300'")]
    [InlineData("micro_batch_size: 2147483647\n", "LB0121", 1, 1, "'micro_batch_size' must be an integer from 1 to 65536")]
    [InlineData("lora_alpha: 0\n", "LB0121", 1, 1, "'lora_alpha' must be a number > 0 and <= 1000000; got '0'")]
    [InlineData("adam_beta1: 5\n", "LB0121", 1, 1, "'adam_beta1' must be a number >= 0 and < 1; got '5'")]
    [InlineData("r: 8\n---\nr: 16\n", "LB0122", 3, 1, "A second YAML document")]
    [InlineData("rank_pattern:\n  down_proj: 0\n", "LB0121", 1, 1, "'rank_pattern' must be an integer from 1 to 16384; got '0'")]
    public void Hostile_input_is_a_located_coded_error(string yaml, string code, int line, int column, string message)
    {
        var e = Fails(yaml);
        Assert.Single(e.Errors);
        Assert.Equal((code, line, column), (e.Code, e.Line, e.Column));
        Assert.Contains(message, e.Message);
        Assert.StartsWith($"{Path.Combine(dir, "adapter.yaml")}({line},{column}): error {code}: ", e.ToString());
    }

    [Fact]
    public void Every_problem_of_a_file_is_reported_at_once_in_file_order()
    {
        var e = Fails("""
            r: 2147483647
            [a, b]: 1
            lora_dropout: 1.5
            target_modules: '(unclosed'
            adam_beta1: 5
            lora_alpha: 0
            ---
            r: 4
            """);
        Assert.Equal([1, 2, 3, 4, 5, 6, 8], e.Errors.Select(x => x.Line));
        Assert.All(e.Errors, x => Assert.True(x.Column > 0));
        var lines = e.ToString().Split(Environment.NewLine);
        Assert.Equal(7, lines.Length);
        Assert.All(lines, l => Assert.Matches(@"adapter\.yaml\(\d+,\d+\): error LB01\d\d: ", l));
    }

    [Fact]
    public void Three_misspelt_keys_give_three_located_errors_with_suggestions()
    {
        var e = Fails("base_model: m\nlearnig_rate: 0.1\nr: 8\nlora_aplha: 16\n  \nmicro_batchsize: 4\n");
        Assert.Equal(3, e.Errors.Count);
        Assert.Equal(
        [
            (2, 1, "Unknown key 'learnig_rate'. Did you mean 'learning_rate'?"),
            (4, 1, "Unknown key 'lora_aplha'. Did you mean 'lora_alpha'?"),
            (6, 1, "Unknown key 'micro_batchsize'. Did you mean 'micro_batch_size'?"),
        ], e.Errors.Select(x => (x.Line, x.Column, x.Message)));
        Assert.All(e.Errors, x => Assert.Equal(ErrorCodes.ConfigKeyUnknown, x.Code));
        // Nothing near: the known keys are listed instead.
        Assert.Contains("Known keys: base_model,", Fails("zzzzzzzzzzzzzz: 1\n").Message);
    }

    [Fact]
    public void A_nested_value_error_points_at_its_column()
    {
        var e = Fails("target_modules:\n  - q_proj\n  - [v_proj]\n");
        Assert.Equal((3, 5), (e.Line, e.Column));
        Assert.Contains("'target_modules' entries must be plain values", e.Message);
    }

    [Fact]
    public void The_committed_axolotl_example_maps_onto_our_keys()
    {
        var path = Path.Combine(TestPaths.RepoRoot, "examples", "axolotl", "speller-qlora.yml");
        var config = TrainingConfigLoader.Load(path);
        var digits = Path.Combine(TestPaths.RepoRoot, "examples", "digits");
        Assert.Equal(Path.Combine(digits, "base"), config.BaseModel);
        Assert.Equal(Path.Combine(digits, "spell-train.jsonl"), config.Dataset);
        Assert.Equal(Path.Combine(digits, "spell-eval.jsonl"), config.EvalDataset);
        Assert.Equal("nf4", config.Quantization);
        Assert.Equal(8, config.R);
        Assert.Equal(16, config.LoraAlpha);
        Assert.Equal([LoraConfig.AllLinear], config.TargetModules);
        Assert.Equal("adamw", config.Optimizer);
        Assert.Equal("auto", config.Dtype);
        Assert.Equal(2, config.NumEpochs);
        Assert.Equal(32, config.MicroBatchSize);
        Assert.Equal(32, config.SequenceLen);
        Assert.Equal(0.002, config.LearningRate);
        Assert.Equal(Path.Combine(TestPaths.RepoRoot, "examples", "axolotl", "outputs", "speller-qlora"), config.OutputDir);
        config.Validate(path);
    }

    [Theory]
    [InlineData("adapter: qlora\n", "Quantization", "nf4")]
    [InlineData("adapter: lora\n", "Quantization", "none")]
    [InlineData("load_in_4bit: true\n", "Quantization", "nf4")]
    [InlineData("load_in_8bit: true\nload_in_4bit: false\nadapter: lora\n", "Quantization", "int8")]
    [InlineData("load_in_8bit: false\n", "Quantization", "none")]
    [InlineData("lora_r: 32\n", "R", 32)]
    [InlineData("lora_target_modules: [q_proj, v_proj]\n", "TargetModules", "q_proj,v_proj")]
    [InlineData("bf16: true\n", "Dtype", "bfloat16")]
    [InlineData("bf16: false\n", "Dtype", "float32")]
    [InlineData("optimizer: adamw_torch\n", "Optimizer", "adamw")]
    [InlineData("optimizer: paged_adamw_8bit\n", "Optimizer", "paged_adamw")]
    [InlineData("val_set_size: 0.05\n", "ValSetSize", 0.05)]
    public void Axolotl_spellings_map_onto_ours(string yaml, string property, object expected)
    {
        var config = TrainingConfigLoader.Load(Yaml(yaml));
        var value = typeof(TrainingConfig).GetProperty(property)!.GetValue(config);
        Assert.Equal(expected.ToString(), value is List<string> list ? string.Join(",", list) : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
        if (yaml.StartsWith("optimizer") && yaml.Contains("8bit")) Assert.Contains("kept in 32 bits", Assert.Single(config.Notes));
        // An 8-bit base says once, at its line, that it is bitsandbytes' int8 weight storage without LLM.int8()'s matmul.
        if (yaml.StartsWith("load_in_8bit: true"))
            Assert.Matches(@"adapter\.yaml\(1,1\): note: load_in_8bit: .*one absmax per output row.*weight-only int8.*not LLM\.int8\(\)'s int8 matmul with outlier decomposition", Assert.Single(config.Notes));
    }

    /// <summary>
    /// Axolotl's resolve_dtype (utils/config) whatever the keys' order: bf16: true or bfloat16: true wins; then fp16: true
    /// (float16 with loss scaling), float16: true (float16 without AMP); bf16: false is float32, anything else bf16: auto.
    /// </summary>
    [Theory]
    [InlineData("fp16: true\n", "float16", true)]
    [InlineData("float16: true\n", "float16", false)]
    [InlineData("fp16: true\nfloat16: true\n", "float16", true)]
    [InlineData("float16: true\nfp16: true\n", "float16", true)]
    [InlineData("bf16: true\nfp16: true\n", "bfloat16", true)]
    [InlineData("fp16: true\nbf16: true\n", "bfloat16", true)]
    [InlineData("fp16: true\nbfloat16: true\n", "bfloat16", true)]
    [InlineData("bf16: auto\nfp16: true\n", "float16", true)]
    [InlineData("fp16: true\nbf16: auto\n", "float16", true)]
    [InlineData("bf16: false\nfp16: true\n", "float16", true)]
    [InlineData("fp16: false\n", "auto", true)]
    [InlineData("bf16: false\nfp16: false\n", "float32", true)]
    [InlineData("fp16:\n", "auto", true)]
    [InlineData("bfloat16: true\nbf16: true\nfp16:\n", "bfloat16", true)]
    [InlineData("dtype: float16\n", "float16", true)]
    public void Axolotl_precision_keys_resolve_as_axolotl_does(string yaml, string dtype, bool lossScaling)
    {
        var config = TrainingConfigLoader.Load(Yaml(yaml));
        Assert.Equal((dtype, lossScaling), (config.Dtype, config.LossScaling));
        // Half precision without loss scaling is its own entry in the fingerprint.
        Assert.Contains(("dtype", dtype == "float16" && !lossScaling ? "float16 (no loss scaling)" : dtype), config.DecidingSettings());
        // One note when the run is float16 (which kind), none when bf16 won.
        var expected = dtype != "float16" ? null : lossScaling ? "fp16: float16 compute over a float16 base" : "float16: the model is loaded and computed in float16 without AMP's loss scaling";
        if (yaml.StartsWith("dtype")) expected = null;
        if (expected is null) Assert.Empty(config.Notes);
        else Assert.Contains(expected, Assert.Single(config.Notes));
    }

    [Theory]
    [InlineData("datasets:\n  - path: a.jsonl\n    type: pygmalion\n", "type 'pygmalion' is not implemented here")]
    [InlineData("datasets:\n  - path: a.jsonl\n    shards: 4\n", "dataset field 'shards' is not supported here")]
    [InlineData("load_in_8bit: true\nadapter: qlora\n", "'adapter: qlora' asks for a 4-bit base but 'load_in_8bit' (line 1) asked for an 8-bit one")]
    [InlineData("load_in_4bit: true\nload_in_8bit: true\n", "'load_in_8bit' asks for an 8-bit base but 'load_in_4bit' (line 1) asked for a 4-bit one")]
    [InlineData("lora_model_dir: ./previous\n", "training an adapter on top of an existing one")]
    [InlineData("metric_for_best_model: eval_accuracy\n", "'metric_for_best_model: eval_accuracy' is not supported: the evaluations during training here compute the eval loss only")]
    [InlineData("greater_is_better: true\n", "the eval loss, which is better when lower")]
    [InlineData("datasets:\n  - path: a.jsonl\n    type: chat_template\n    roles_to_train: [user, assistant]\n", "roles_to_train other than assistant")]
    [InlineData("datasets:\n  - path: a.jsonl\n    type: chat_template\n    train_on_eos: all\n", "train_on_eos: all is not supported")]
    public void Axolotl_settings_we_cannot_honour_are_errors_not_silently_ignored(string yaml, string message) =>
        Assert.Contains(message, Fails(yaml).Message);

    [Fact]
    public void Eval_dataset_and_val_set_size_together_are_refused()
    {
        var config = TrainingConfigLoader.Load(Yaml("base_model: m\ndataset: d.jsonl\neval_dataset: e.jsonl\nval_set_size: 0.1\noutput_dir: o\n"));
        Assert.Contains("not both", Assert.Throws<LoraBuildException>(() => config.Validate("x")).Message);
    }
}
