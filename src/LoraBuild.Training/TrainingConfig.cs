using System.Globalization;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;

namespace LoraBuild.Training;

/// <summary>
/// Everything a training run needs. Key names follow PEFT and Axolotl (<c>r</c>, <c>lora_alpha</c>, <c>micro_batch_size</c>,
/// <c>sequence_len</c> ...); <see cref="Keys"/> is the single table that YAML files and command-line flags both go through.
/// </summary>
public sealed class TrainingConfig
{
    public string? BaseModel { get; set; }
    public string? Dataset { get; set; }
    public string? EvalDataset { get; set; }
    public string? OutputDir { get; set; }
    /// <summary>The adapter's name (the SDK passes the item's): the loss curve's title.</summary>
    public string? AdapterName { get; set; }
    /// <summary>A portable id for the base model (a Hub id such as "Qwen/Qwen2.5-0.5B"); else its folder's name.</summary>
    public string? BaseModelId { get; set; }
    /// <summary>base_model as the YAML file wrote it (before it was made a path): a Hub id when that path does not exist.</summary>
    public string? BaseModelAsWritten { get; set; }
    /// <summary>The Hub revision (branch, tag or commit) of a base_model given by id; Axolotl's revision_of_model.</summary>
    public string? RevisionOfModel { get; set; }
    /// <summary>The Hub commit the base model was resolved to (lora.lock.json): in the fingerprint and in lorabuild.json.</summary>
    public string? BaseModelCommit { get; set; }
    public string Method { get; set; } = "lora";
    public int R { get; set; } = 8;
    public double LoraAlpha { get; set; } = 16;
    public double LoraDropout { get; set; }
    public List<string> TargetModules { get; set; } = [LoraConfig.AllLinear];
    public bool UseRslora { get; set; }
    public bool UseDora { get; set; }
    public string InitLoraWeights { get; set; } = "default";
    public Dictionary<string, int> RankPattern { get; set; } = new();
    public Dictionary<string, double> AlphaPattern { get; set; } = new();
    public string Quantization { get; set; } = "none";
    public bool DoubleQuant { get; set; } = true;
    public double LearningRate { get; set; } = 2e-4;
    public string LrScheduler { get; set; } = "linear";
    public int WarmupSteps { get; set; }
    public double NumEpochs { get; set; } = 1;
    public int MaxSteps { get; set; }
    public int MicroBatchSize { get; set; } = 4;
    public int GradientAccumulationSteps { get; set; } = 1;
    public int SequenceLen { get; set; } = 512;
    public bool SamplePacking { get; set; }
    public double WeightDecay { get; set; }
    public double MaxGradNorm { get; set; } = 1.0;
    public string Optimizer { get; set; } = "adamw";
    public double AdamBeta1 { get; set; } = 0.9;
    public double AdamBeta2 { get; set; } = 0.999;
    public double AdamEpsilon { get; set; } = 1e-8;
    public bool GradientCheckpointing { get; set; }
    public int Seed { get; set; } = 42;
    public int SaveSteps { get; set; } = 50;
    public int SaveTotalLimit { get; set; } = 2;
    public int EvalSteps { get; set; }
    public int LoggingSteps { get; set; } = 10;
    public string Device { get; set; } = "auto";
    public string Dtype { get; set; } = "auto";
    public string ChatTemplate { get; set; } = "auto";
    public int EvalMaxNewTokens { get; set; } = 64;
    /// <summary>Share (below 1) or count of the training examples held out for evaluation when no eval_dataset is given.</summary>
    public double ValSetSize { get; set; }
    /// <summary>What the configuration mapped approximately (Axolotl spellings); the trainer prints these.</summary>
    public List<string> Notes { get; } = [];

    // Upper bounds: far beyond any real run, low enough that sizes and step counts cannot overflow.
    const int MaxRank = 16384, MaxBatch = 65536, MaxSequence = 1 << 20, MaxCount = 100_000_000;
    const double MaxEpochs = 100_000;

    /// <summary>Keys that decide the trained weights. Output location, checkpoint cadence and logging do not.</summary>
    static readonly HashSet<string> NotInFingerprint = ["output_dir", "adapter_name", "base_model_id", "revision_of_model", "save_steps", "save_total_limit", "eval_steps", "logging_steps", "eval_max_new_tokens"];

    public sealed record Key(string Name, string Help, Func<TrainingConfig, object?> Get, Action<TrainingConfig, Value> Set, params string[] Aliases);

    /// <summary>A raw value with where it came from (a YAML file:line, or a command-line flag).</summary>
    public sealed record Value(string? Scalar, IReadOnlyList<string>? List, IReadOnlyDictionary<string, string>? Map, string Source, int Line, int Column = 0,
        IReadOnlyList<IReadOnlyDictionary<string, string>>? Entries = null)
    {
        public LoraBuildException Invalid(string key, string expected) =>
            new(ErrorCodes.ConfigValueInvalid, $"'{key}' must be {expected}; got '{Scalar ?? (List is null && Entries is null ? "a mapping" : "a list")}'.", Source, Line, column: Column);

        public string String(string key) => Scalar ?? throw Invalid(key, "a single value");

        public int Int(string key, int min = int.MinValue, int max = int.MaxValue) =>
            int.TryParse(Scalar, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? v
                : throw Invalid(key, (min, max) switch
                {
                    (int.MinValue, int.MaxValue) => "an integer",
                    (_, int.MaxValue) => $"an integer >= {min}",
                    _ => $"an integer from {min} to {max}",
                });

        /// <summary>A finite number in [min, max] (or (min, max] / [min, max) with the exclusive flags).</summary>
        public double Double(string key, double min = double.NegativeInfinity, double max = double.PositiveInfinity, bool aboveMin = false, bool belowMax = false)
        {
            var inv = CultureInfo.InvariantCulture;
            if (double.TryParse(Scalar, NumberStyles.Float, inv, out var v) && double.IsFinite(v) &&
                (aboveMin ? v > min : v >= min) && (belowMax ? v < max : v <= max)) return v;
            var lower = double.IsNegativeInfinity(min) ? null : (aboveMin ? "> " : ">= ") + min.ToString(inv);
            var upper = double.IsPositiveInfinity(max) ? null : (belowMax ? "< " : "<= ") + max.ToString(inv);
            throw Invalid(key, "a number" + (lower, upper) switch
            {
                (null, null) => "",
                (_, null) => " " + lower,
                (null, _) => " " + upper,
                _ => $" {lower} and {upper}",
            });
        }

        public bool Bool(string key) => Scalar?.ToLowerInvariant() switch
        {
            "true" or "yes" or "1" => true,
            "false" or "no" or "0" => false,
            _ => throw Invalid(key, "true or false"),
        };

        public string OneOf(string key, params string[] allowed) =>
            Scalar is { } s && allowed.Contains(s.ToLowerInvariant()) ? s.ToLowerInvariant() : throw Invalid(key, "one of " + string.Join(", ", allowed));

        public List<string> Strings(string key) =>
            List?.ToList() ?? (Scalar is { } s ? s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList() : throw Invalid(key, "a list"));

        public Dictionary<string, T> Mapping<T>(string key, Func<string, T> parse) =>
            Map?.ToDictionary(p => p.Key, p => parse(p.Value)) ?? throw Invalid(key, "a mapping");
    }

    public static readonly IReadOnlyList<Key> Keys =
    [
        new("base_model", "HF model folder", c => c.BaseModel, (c, v) => c.BaseModel = v.String("base_model")),
        new("dataset", "training JSONL", c => c.Dataset, (c, v) => c.Dataset = v.String("dataset"), "train_dataset"),
        new("eval_dataset", "evaluation JSONL", c => c.EvalDataset, (c, v) => c.EvalDataset = string.IsNullOrEmpty(v.Scalar) ? null : v.String("eval_dataset")),
        new("output_dir", "where the adapter goes", c => c.OutputDir, (c, v) => c.OutputDir = v.String("output_dir")),
        new("adapter_name", "name in the loss curve's title", c => c.AdapterName, (c, v) => c.AdapterName = v.String("adapter_name")),
        new("base_model_id", "portable base-model id written to adapter_config.json", c => c.BaseModelId, (c, v) => c.BaseModelId = v.String("base_model_id")),
        new("revision_of_model", "Hub revision of a base_model id (branch, tag or commit)", c => c.RevisionOfModel, (c, v) => c.RevisionOfModel = v.String("revision_of_model"), "base_model_revision"),
        new("base_model_commit", "Hub commit of the base model (set by the SDK from lora.lock.json)", c => c.BaseModelCommit, (c, v) => c.BaseModelCommit = v.String("base_model_commit")),
        new("method", "lora | full", c => c.Method, (c, v) => c.Method = v.OneOf("method", "lora", "full")),
        new("r", "LoRA rank", c => c.R, (c, v) => c.R = v.Int("r", 1, MaxRank), "rank", "lora_r"),
        new("lora_alpha", "LoRA alpha", c => c.LoraAlpha, (c, v) => c.LoraAlpha = v.Double("lora_alpha", 0, 1e6, aboveMin: true), "alpha"),
        new("lora_dropout", "dropout on the LoRA input", c => c.LoraDropout, (c, v) => c.LoraDropout = v.Double("lora_dropout", 0, 1, belowMax: true), "dropout"),
        new("target_modules", "module names, a regex, or all-linear", c => string.Join(",", c.TargetModules), (c, v) => c.TargetModules = TargetList(v), "lora_target_modules"),
        new("use_rslora", "scale alpha/sqrt(r)", c => c.UseRslora, (c, v) => c.UseRslora = v.Bool("use_rslora")),
        new("use_dora", "DoRA", c => c.UseDora, (c, v) => c.UseDora = v.Bool("use_dora"), "dora"),
        new("init_lora_weights", "default | gaussian", c => c.InitLoraWeights, (c, v) => c.InitLoraWeights = v.OneOf("init_lora_weights", "default", "true", "gaussian") is "true" ? "default" : v.Scalar!.ToLowerInvariant()),
        new("rank_pattern", "per-module rank", c => string.Join(",", c.RankPattern.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}")), (c, v) => c.RankPattern = v.Mapping("rank_pattern", s => (v with { Scalar = s, Map = null }).Int("rank_pattern", 1, MaxRank))),
        new("alpha_pattern", "per-module alpha", c => string.Join(",", c.AlphaPattern.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value.ToString(CultureInfo.InvariantCulture)}")), (c, v) => c.AlphaPattern = v.Mapping("alpha_pattern", s => (v with { Scalar = s, Map = null }).Double("alpha_pattern", 0, 1e6, aboveMin: true))),
        new("quantization", "none | nf4", c => c.Quantization, (c, v) => c.Quantization = v.OneOf("quantization", "none", "nf4")),
        new("double_quant", "8-bit absmax constants", c => c.DoubleQuant, (c, v) => c.DoubleQuant = v.Bool("double_quant")),
        new("learning_rate", "peak learning rate", c => c.LearningRate, (c, v) => c.LearningRate = v.Double("learning_rate", 0, 10), "lr"),
        new("lr_scheduler", "constant | linear | cosine", c => c.LrScheduler, (c, v) => c.LrScheduler = v.OneOf("lr_scheduler", "constant", "linear", "cosine")),
        new("warmup_steps", "linear warm-up steps", c => c.WarmupSteps, (c, v) => c.WarmupSteps = v.Int("warmup_steps", 0, MaxCount)),
        new("num_epochs", "epochs (when max_steps is 0)", c => c.NumEpochs, (c, v) => c.NumEpochs = v.Double("num_epochs", 0, MaxEpochs), "epochs"),
        new("max_steps", "optimizer steps (overrides num_epochs)", c => c.MaxSteps, (c, v) => c.MaxSteps = v.Int("max_steps", 0, MaxCount), "steps"),
        new("micro_batch_size", "examples per forward pass", c => c.MicroBatchSize, (c, v) => c.MicroBatchSize = v.Int("micro_batch_size", 1, MaxBatch), "batch_size"),
        new("gradient_accumulation_steps", "micro-batches per optimizer step", c => c.GradientAccumulationSteps, (c, v) => c.GradientAccumulationSteps = v.Int("gradient_accumulation_steps", 1, MaxBatch)),
        new("sequence_len", "longest sequence in tokens", c => c.SequenceLen, (c, v) => c.SequenceLen = v.Int("sequence_len", 2, MaxSequence), "max_seq_length"),
        new("sample_packing", "pack examples into full sequences", c => c.SamplePacking, (c, v) => c.SamplePacking = v.Bool("sample_packing"), "packing"),
        new("weight_decay", "AdamW weight decay", c => c.WeightDecay, (c, v) => c.WeightDecay = v.Double("weight_decay", 0, 10)),
        new("max_grad_norm", "gradient clipping (0 = off)", c => c.MaxGradNorm, (c, v) => c.MaxGradNorm = v.Double("max_grad_norm", 0, 1e6)),
        new("optimizer", "adamw | paged_adamw", c => c.Optimizer, (c, v) => c.Optimizer = OptimizerName(c, v)),
        new("adam_beta1", "AdamW beta1", c => c.AdamBeta1, (c, v) => c.AdamBeta1 = v.Double("adam_beta1", 0, 1, belowMax: true)),
        new("adam_beta2", "AdamW beta2", c => c.AdamBeta2, (c, v) => c.AdamBeta2 = v.Double("adam_beta2", 0, 1, belowMax: true)),
        new("adam_epsilon", "AdamW epsilon", c => c.AdamEpsilon, (c, v) => c.AdamEpsilon = v.Double("adam_epsilon", 0, 1, aboveMin: true)),
        new("gradient_checkpointing", "recompute activations in backward", c => c.GradientCheckpointing, (c, v) => c.GradientCheckpointing = v.Bool("gradient_checkpointing")),
        new("seed", "random seed", c => c.Seed, (c, v) => c.Seed = v.Int("seed")),
        new("save_steps", "checkpoint every N steps (0 = off)", c => c.SaveSteps, (c, v) => c.SaveSteps = v.Int("save_steps", 0, MaxCount)),
        new("save_total_limit", "checkpoints kept", c => c.SaveTotalLimit, (c, v) => c.SaveTotalLimit = v.Int("save_total_limit", 1)),
        new("eval_steps", "evaluate every N steps (0 = at the end)", c => c.EvalSteps, (c, v) => c.EvalSteps = v.Int("eval_steps", 0, MaxCount)),
        new("logging_steps", "progress line every N steps", c => c.LoggingSteps, (c, v) => c.LoggingSteps = v.Int("logging_steps", 1, MaxCount)),
        new("device", "auto | cpu | cuda", c => c.Device, (c, v) => c.Device = v.OneOf("device", "auto", "cpu", "cuda")),
        new("dtype", "auto | float32 | bfloat16", c => c.Dtype, (c, v) => c.Dtype = v.OneOf("dtype", "auto", "float32", "bfloat16")),
        new("chat_template", "auto | chatml | llama3", c => c.ChatTemplate, (c, v) => c.ChatTemplate = v.OneOf("chat_template", "auto", "chatml", "llama3")),
        new("eval_max_new_tokens", "tokens generated for exact match", c => c.EvalMaxNewTokens, (c, v) => c.EvalMaxNewTokens = v.Int("eval_max_new_tokens", 1, MaxSequence)),
        new("val_set_size", "share (< 1) or count of training examples held out for eval", c => c.ValSetSize, (c, v) => c.ValSetSize = v.Double("val_set_size", 0, MaxCount)),

        // Axolotl spellings that are not one key of ours: mapped onto ours.
        new("datasets", "Axolotl: a list with one {path, type} entry = dataset", c => null, (c, v) => c.Dataset = DatasetEntry(v, "datasets")),
        new("test_datasets", "Axolotl: a list with one {path, type} entry = eval_dataset", c => null, (c, v) => c.EvalDataset = DatasetEntry(v, "test_datasets")),
        new("adapter", "Axolotl: lora | qlora (= quantization: nf4)", c => null, (c, v) => { if (v.OneOf("adapter", "lora", "qlora") == "qlora") c.Quantization = "nf4"; }),
        new("load_in_4bit", "Axolotl: true = quantization: nf4", c => null, (c, v) => { if (v.Bool("load_in_4bit")) c.Quantization = "nf4"; }),
        new("load_in_8bit", "Axolotl: 8-bit base weights (not supported; false only)", c => null, (c, v) => { if (v.Bool("load_in_8bit")) throw v.Invalid("load_in_8bit", "false (8-bit base weights are not supported; use load_in_4bit)"); }),
        new("lora_target_linear", "Axolotl: true = target_modules: all-linear", c => null, (c, v) => { if (v.Bool("lora_target_linear")) c.TargetModules = [LoraConfig.AllLinear]; }),
        new("bf16", "Axolotl: true = dtype: bfloat16, false = float32, auto", c => null, (c, v) => c.Dtype = v.OneOf("bf16", "true", "false", "auto") switch { "true" => "bfloat16", "false" => "float32", _ => "auto" }),
    ];

    /// <summary>Module names, or one regex (checked here, so a bad pattern is a located error rather than a crash later).</summary>
    static List<string> TargetList(Value v)
    {
        var list = v.Strings("target_modules");
        if (list is [var single] && single != LoraConfig.AllLinear && IsRegex(single))
        {
            try { _ = new System.Text.RegularExpressions.Regex(single, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1)); }
            catch (ArgumentException e) { throw v.Invalid("target_modules", "module names, all-linear or a valid regular expression (" + e.Message.TrimEnd('.') + ")"); }
        }
        return list;
    }

    /// <summary>Axolotl's optimizer names onto ours; 8-bit optimizer states are kept in 32 bits (a note says so).</summary>
    static string OptimizerName(TrainingConfig c, Value v)
    {
        var name = v.OneOf("optimizer", "adamw", "paged_adamw", "adamw_torch", "adamw_torch_fused", "adamw_hf", "paged_adamw_32bit", "paged_adamw_8bit", "adamw_bnb_8bit");
        if (name is "paged_adamw_8bit" or "adamw_bnb_8bit")
            c.Notes.Add($"{v.Source}({v.Line}): optimizer {name}: the optimizer states are kept in 32 bits (no 8-bit optimizer here).");
        return name.StartsWith("paged_", StringComparison.Ordinal) ? "paged_adamw" : "adamw";
    }

    /// <summary>Axolotl's datasets: [{path: file.jsonl, type: alpaca}]. One local JSONL file; its format is read from its lines.</summary>
    static string DatasetEntry(Value v, string key)
    {
        if (v.Entries is not { Count: 1 } entries) throw v.Invalid(key, "a list with one {path, type} entry (one JSONL file)");
        var entry = entries[0];
        if (!entry.TryGetValue("path", out var path) || string.IsNullOrEmpty(path)) throw v.Invalid(key, "an entry with a path");
        foreach (var field in entry.Keys.Where(k => k is not ("path" or "type" or "split" or "ds_type")))
            throw v.Invalid(key, $"entries of path, type (a '{field}' field is not supported)");
        if (entry.TryGetValue("ds_type", out var dsType) && dsType != "json") throw v.Invalid(key, "entries of ds_type json (JSONL)");
        if (entry.TryGetValue("type", out var type) && type is not ("alpaca" or "completion" or "chat_template" or "input_output"))
            throw v.Invalid(key, "entries of type alpaca, completion or chat_template (each line's fields decide its format)");
        return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(v.Source)) ?? ".", path));
    }

    public static Key? FindKey(string name) =>
        Keys.FirstOrDefault(k => k.Name == name || k.Aliases.Contains(name));

    /// <summary>Applies one setting; unknown keys are errors that name the key, where it was written, and the nearest known key.</summary>
    public void Apply(string name, Value value)
    {
        var key = FindKey(name) ?? throw new LoraBuildException(ErrorCodes.ConfigKeyUnknown,
            Suggest(name) is { } near ? $"Unknown key '{name}'. Did you mean '{near}'?" : $"Unknown key '{name}'. Known keys: {string.Join(", ", Keys.Select(k => k.Name))}.",
            value.Source, value.Line, column: value.Column);
        key.Set(this, value);
    }

    /// <summary>Applies every setting and reports all unknown keys and bad values together.</summary>
    public void ApplyAll(IEnumerable<(string Name, Value Value)> settings, List<LoraBuildException>? errors = null)
    {
        var found = errors ?? [];
        foreach (var (name, value) in settings)
        {
            try { Apply(name, value); }
            catch (LoraBuildException e) { found.Add(e); }
        }
        if (errors is null && found.Count > 0) throw LoraBuildException.All(found);
    }

    /// <summary>The known key (or alias) closest to a misspelt one, when it is close enough to be a likely typo.</summary>
    public static string? Suggest(string name)
    {
        var lower = name.ToLowerInvariant();
        var best = Keys.SelectMany(k => k.Aliases.Prepend(k.Name))
            .Select(candidate => (candidate, distance: EditDistance(lower, candidate)))
            .OrderBy(p => p.distance).ThenBy(p => p.candidate, StringComparer.Ordinal).First();
        return best.distance <= Math.Max(2, name.Length / 3) ? best.candidate : null;
    }

    static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>Checks the combination of settings; paths are resolved against <paramref name="baseDirectory"/>.</summary>
    public void Validate(string source)
    {
        LoraBuildException Missing(string key) => new(ErrorCodes.ConfigValueInvalid, $"'{key}' is required.", source);
        if (string.IsNullOrEmpty(BaseModel)) throw Missing("base_model");
        if (string.IsNullOrEmpty(Dataset)) throw Missing("dataset");
        if (string.IsNullOrEmpty(OutputDir)) throw Missing("output_dir");
        if (Method == "full" && (Quantization != "none" || UseDora))
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "method: full trains every weight; quantization and use_dora apply to LoRA only.", source);
        if (MaxSteps == 0 && NumEpochs <= 0) throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "Set max_steps or a positive num_epochs.", source);
        if (ValSetSize > 0 && EvalDataset is not null)
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "Give eval_dataset or val_set_size, not both.", source);
    }

    public LoraConfig ToLoraConfig() => new()
    {
        R = R,
        LoraAlpha = LoraAlpha,
        LoraDropout = LoraDropout,
        TargetModuleList = TargetModules is [var single] && (single == LoraConfig.AllLinear || IsRegex(single)) ? null : TargetModules,
        TargetModuleRegex = TargetModules is [var one] && (one == LoraConfig.AllLinear || IsRegex(one)) ? one : null,
        UseRslora = UseRslora,
        UseDora = UseDora,
        RankPattern = RankPattern,
        AlphaPattern = AlphaPattern,
        InitLoraWeights = InitLoraWeights == "gaussian" ? LoraInit.Gaussian : LoraInit.Default,
        // Never a machine path: the id given, else the base model folder's name.
        BaseModelNameOrPath = BaseModelId ?? (BaseModel is null ? null : Path.GetFileName(BaseModel.TrimEnd('/', '\\'))),
    };

    static bool IsRegex(string value) => value.IndexOfAny(['*', '(', '[', '|', '\\', '^', '$', '+', '?']) >= 0;

    /// <summary>The settings that decide the weights, canonically ordered, for fingerprints.</summary>
    public IReadOnlyList<(string Key, string Value)> DecidingSettings() =>
        Keys.Where(k => !NotInFingerprint.Contains(k.Name) && k.Name is not ("base_model" or "dataset" or "eval_dataset") && k.Get(this) is not null)
            .Select(k => (k.Name, Convert.ToString(k.Get(this), CultureInfo.InvariantCulture) ?? ""))
            .ToList();
}
