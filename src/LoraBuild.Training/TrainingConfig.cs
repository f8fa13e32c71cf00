using System.Globalization;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Training.Axolotl;
using LoraBuild.Training.Data;

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
    /// <summary>PEFT's modules_to_save (Axolotl lora_modules_to_save): embed_tokens and/or lm_head trained whole beside the adapter.</summary>
    public List<string> ModulesToSave { get; set; } = [];
    public string Quantization { get; set; } = "none";
    public bool DoubleQuant { get; set; } = true;
    // Which Axolotl key chose the quantization, where: load_in_8bit and load_in_4bit / adapter: qlora conflict.
    (string Key, string Source, int Line)? axolotlQuantization;
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
    bool SaveStepsGiven { get; set; }
    public int SaveTotalLimit { get; set; } = 2;
    public int EvalSteps { get; set; }
    public int LoggingSteps { get; set; } = 10;
    public string Device { get; set; } = "auto";
    public string Dtype { get; set; } = "auto";
    /// <summary>
    /// fp16 mixed precision's dynamic loss scaling (torch GradScaler) when the compute dtype is float16: on for dtype: float16
    /// and Axolotl's fp16: true, off for Axolotl's float16: true alone (half-precision weights without AMP).
    /// </summary>
    public bool LossScaling { get; set; } = true;
    // Axolotl's precision keys as written; resolved together (utils/config resolve_dtype) whatever their order.
    string? axolotlBf16;
    bool axolotlFp16, axolotlFloat16, axolotlBfloat16;
    public string ChatTemplate { get; set; } = "auto";
    public int EvalMaxNewTokens { get; set; } = 64;
    /// <summary>Share (below 1) or count of the training examples held out for evaluation when no eval_dataset is given.</summary>
    public double ValSetSize { get; set; }
    /// <summary>The training datasets (Axolotl's datasets: list, or the one dataset: file), mixed in list order.</summary>
    public List<DatasetSpec> Datasets { get; set; } = [];
    public List<DatasetSpec> EvalDatasets { get; set; } = [];

    /// <summary>The training entries; a Dataset path set directly (not through a key) is one entry whose rows decide.</summary>
    public IReadOnlyList<DatasetSpec> TrainSpecs => Datasets.Count > 0 ? Datasets : Dataset is null ? [] : [new DatasetSpec(Dataset, "training configuration", 0)];
    public IReadOnlyList<DatasetSpec> EvalSpecs => EvalDatasets.Count > 0 ? EvalDatasets : EvalDataset is null ? [] : [new DatasetSpec(EvalDataset, "training configuration", 0)];
    /// <summary>Axolotl warmup_ratio: warm-up steps = int(ratio x total steps) (core/builders/base.py).</summary>
    public double WarmupRatio { get; set; }
    /// <summary>Axolotl evals_per_epoch / saves_per_epoch: eval_steps / save_steps = ceil(total / (n x num_epochs)) (utils/config).</summary>
    public int EvalsPerEpoch { get; set; }
    public int SavesPerEpoch { get; set; }
    /// <summary>Axolotl early_stopping_patience (0 = off): stop after this many evaluations in a row without a lower eval loss.</summary>
    public int EarlyStoppingPatience { get; set; }
    /// <summary>HF load_best_model_at_end, given explicitly (Axolotl also turns it on with early_stopping_patience; see <see cref="BestModelImplied"/>).</summary>
    public bool LoadBestModelAtEnd { get; set; }
    /// <summary>
    /// Axolotl's implicit load_best_model_at_end (core/builders/causal.py): early_stopping_patience with a checkpoint cadence given
    /// (save_steps or saves_per_epoch); the trainer applies it when the resolved save steps are a multiple of the evaluation steps.
    /// </summary>
    public bool BestModelImplied => EarlyStoppingPatience > 0 && (SaveStepsGiven || SavesPerEpoch > 0);
    /// <summary>Axolotl train_on_inputs: the prompt tokens are learned too.</summary>
    public bool TrainOnInputs { get; set; }
    /// <summary>Axolotl special_tokens (pad_token, eos_token, ...): each must already be a token of the model's vocabulary.</summary>
    public Dictionary<string, string> SpecialTokenOverrides { get; set; } = new();
    /// <summary>Axolotl lora_target_linear: true targets every linear layer, whatever lora_target_modules says.</summary>
    public bool TargetLinear { get; set; }
    /// <summary>A Hub model id given as base_model (no local folder of that name), not yet resolved to its cached snapshot by the worker.</summary>
    public bool BaseModelIsHubId { get; set; }
    /// <summary>What the configuration mapped approximately (Axolotl spellings); the trainer prints these.</summary>
    public List<string> Notes { get; } = [];

    readonly HashSet<string> notedKeys = [];

    /// <summary>One note per key, located where the key was written.</summary>
    public void AddNote(Value at, string text)
    {
        var key = text.Split(':')[0];
        if (!notedKeys.Add(key)) return;
        Notes.Add($"{at.Source}({at.Line}{(at.Column > 0 ? $",{at.Column}" : "")}): note: {text}");
    }

    // Upper bounds: far beyond any real run, low enough that sizes and step counts cannot overflow.
    const int MaxRank = 16384, MaxBatch = 65536, MaxSequence = 1 << 20, MaxCount = 100_000_000;
    const double MaxEpochs = 100_000;

    /// <summary>Keys that decide the trained weights. Output location, checkpoint cadence and logging do not.</summary>
    static readonly HashSet<string> NotInFingerprint = ["output_dir", "adapter_name", "base_model_id", "revision_of_model", "save_steps", "save_total_limit", "eval_steps", "logging_steps", "eval_max_new_tokens",
        "saves_per_epoch", "evals_per_epoch"];

    public sealed record Key(string Name, string Help, Func<TrainingConfig, object?> Get, Action<TrainingConfig, Value> Set, params string[] Aliases);

    /// <summary>A raw value with where it came from (a YAML file:line, or a command-line flag).</summary>
    public sealed record Value(string? Scalar, IReadOnlyList<string>? List, IReadOnlyDictionary<string, string>? Map, string Source, int Line, int Column = 0,
        IReadOnlyList<IReadOnlyDictionary<string, string>>? Entries = null)
    {
        /// <summary>The YAML node the value was read from (nested values such as datasets entries); null for flags.</summary>
        public YamlDotNet.RepresentationModel.YamlNode? Node { get; init; }

        /// <summary>Empty, as Axolotl reads "key:" with nothing after it: the key is unset.</summary>
        public bool IsEmpty => Scalar is null or "" or "~" or "null" && List is null && Map is null && Entries is null;

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
        new("base_model", "HF model folder, or an org/name Hub id (revision_of_model picks the revision)", c => c.BaseModel, (c, v) =>
        {
            c.BaseModel = v.String("base_model");
            c.BaseModelIsHubId = !Path.IsPathRooted(c.BaseModel) && DatasetSpec.LooksLikeHubId(c.BaseModel, Directory.GetCurrentDirectory());
        }),
        new("dataset", "training data: a JSONL / JSON / Parquet / CSV file or a folder of them", c => c.Dataset, (c, v) => { c.Dataset = v.String("dataset"); c.Datasets = [new DatasetSpec(c.Dataset, v.Source, v.Line, v.Column)]; }, "train_dataset"),
        new("eval_dataset", "evaluation data (as dataset)", c => c.EvalDataset, (c, v) => { c.EvalDataset = v.String("eval_dataset"); c.EvalDatasets = [new DatasetSpec(c.EvalDataset, v.Source, v.Line, v.Column)]; }),
        new("output_dir", "where the adapter goes", c => c.OutputDir, (c, v) => c.OutputDir = v.String("output_dir")),
        new("adapter_name", "name in the loss curve's title", c => c.AdapterName, (c, v) => c.AdapterName = v.String("adapter_name")),
        new("base_model_id", "portable base-model id written to adapter_config.json", c => c.BaseModelId, (c, v) => c.BaseModelId = v.String("base_model_id")),
        new("revision_of_model", "Hub revision of a base_model id (branch, tag or commit)", c => c.RevisionOfModel, (c, v) => c.RevisionOfModel = v.String("revision_of_model"), "base_model_revision"),
        new("base_model_commit", "Hub commit of the base model (set by the SDK from lora.lock.json)", c => c.BaseModelCommit, (c, v) => c.BaseModelCommit = v.String("base_model_commit")),
        new("method", "lora | full", c => c.Method, (c, v) => c.Method = v.OneOf("method", "lora", "full")),
        new("r", "LoRA rank", c => c.R, (c, v) => c.R = v.Int("r", 1, MaxRank), "rank", "lora_r"),
        new("lora_alpha", "LoRA alpha", c => c.LoraAlpha, (c, v) => c.LoraAlpha = v.Double("lora_alpha", 0, 1e6, aboveMin: true), "alpha"),
        new("lora_dropout", "dropout on the LoRA input", c => c.LoraDropout, (c, v) => c.LoraDropout = v.Double("lora_dropout", 0, 1, belowMax: true), "dropout"),
        new("target_modules", "module names, a regex, or all-linear", c => c.TargetLinear ? LoraConfig.AllLinear : string.Join(",", c.TargetModules), (c, v) => c.TargetModules = TargetList(v), "lora_target_modules"),
        new("use_rslora", "scale alpha/sqrt(r)", c => c.UseRslora, (c, v) => c.UseRslora = v.Bool("use_rslora"), "peft_use_rslora"),
        new("use_dora", "DoRA", c => c.UseDora, (c, v) => c.UseDora = v.Bool("use_dora"), "dora", "peft_use_dora"),
        new("init_lora_weights", "default | gaussian", c => c.InitLoraWeights, (c, v) => c.InitLoraWeights = v.OneOf("init_lora_weights", "default", "true", "gaussian") is "true" ? "default" : v.Scalar!.ToLowerInvariant()),
        new("rank_pattern", "per-module rank", c => string.Join(",", c.RankPattern.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}")), (c, v) => c.RankPattern = v.Mapping("rank_pattern", s => (v with { Scalar = s, Map = null }).Int("rank_pattern", 1, MaxRank))),
        new("alpha_pattern", "per-module alpha", c => string.Join(",", c.AlphaPattern.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value.ToString(CultureInfo.InvariantCulture)}")), (c, v) => c.AlphaPattern = v.Mapping("alpha_pattern", s => (v with { Scalar = s, Map = null }).Double("alpha_pattern", 0, 1e6, aboveMin: true))),
        // Unset (empty) it is null, so every earlier fingerprint stays as it was.
        new("modules_to_save", "modules trained whole beside the adapter and saved with it: embed_tokens, lm_head (PEFT modules_to_save)",
            c => c.ModulesToSave.Count == 0 ? null : string.Join(",", c.ModulesToSave), (c, v) => c.ModulesToSave = ModulesToSaveList(v), "lora_modules_to_save"),
        new("quantization", "none | nf4 | int8 (row-wise absmax int8 weights, weight-only)", c => c.Quantization, (c, v) => c.Quantization = v.OneOf("quantization", "none", "nf4", "int8")),
        new("double_quant", "8-bit absmax constants", c => c.DoubleQuant, (c, v) => c.DoubleQuant = v.Bool("double_quant")),
        new("learning_rate", "peak learning rate", c => c.LearningRate, (c, v) => c.LearningRate = v.Double("learning_rate", 0, 10), "lr"),
        new("lr_scheduler", "constant | linear | cosine (constant_with_warmup = constant)", c => c.LrScheduler, (c, v) => c.LrScheduler = v.OneOf("lr_scheduler", "constant", "linear", "cosine", "constant_with_warmup") is "constant_with_warmup" ? "constant" : v.Scalar!.ToLowerInvariant()),
        new("warmup_ratio", "Axolotl: warm-up steps = int(ratio x total steps)", c => c.WarmupRatio, (c, v) => c.WarmupRatio = v.Double("warmup_ratio", 0, 1)),
        new("evals_per_epoch", "Axolotl: evaluations per epoch (eval_steps = ceil(total / (n x num_epochs)))", c => c.EvalsPerEpoch, (c, v) => c.EvalsPerEpoch = v.Int("evals_per_epoch", 0, MaxCount)),
        new("saves_per_epoch", "Axolotl: checkpoints per epoch (save_steps = ceil(total / (n x num_epochs)))", c => c.SavesPerEpoch, (c, v) => c.SavesPerEpoch = v.Int("saves_per_epoch", 0, MaxCount)),
        // When it stops depends on how often evaluation runs, so the eval cadence joins the fingerprint with it; unset
        // (null) it leaves every earlier fingerprint as it was.
        new("early_stopping_patience", "Axolotl: stop after N evaluations in a row without a lower eval loss (transformers' EarlyStoppingCallback; needs evaluation during training)",
            c => c.EarlyStoppingPatience > 0 ? $"{c.EarlyStoppingPatience} (eval_steps {c.EvalSteps}, evals_per_epoch {c.EvalsPerEpoch})" : null,
            (c, v) =>
            {
                c.EarlyStoppingPatience = v.Int("early_stopping_patience", 0, MaxCount);
                if (c.EarlyStoppingPatience > 0)
                    c.AddNote(v, "early_stopping_patience: the adapter written is the one at the step training stopped, unless load_best_model_at_end applies: " +
                        "Axolotl turns it on with early_stopping_patience when save_steps (or saves_per_epoch) is given and is a multiple of the evaluation steps, " +
                        "and then the adapter written is the best evaluation's (the summary line says which).");
            }),
        // Changes which weights are written, so it joins the fingerprint with the cadences that decide the best step; unset
        // (null) it leaves every earlier fingerprint as it was.
        new("load_best_model_at_end", "HF: write the adapter of the best evaluation (eval loss) rather than the last step's; needs save_steps a multiple of eval_steps",
            c => c.LoadBestModelAtEnd || c.BestModelImplied
                ? $"true (save_steps {c.SaveSteps}, saves_per_epoch {c.SavesPerEpoch}, eval_steps {c.EvalSteps}, evals_per_epoch {c.EvalsPerEpoch})" : null,
            (c, v) => c.LoadBestModelAtEnd = v.Bool("load_best_model_at_end")),
        new("metric_for_best_model", "HF: eval_loss (or loss), the only metric computed at each evaluation during training here", c => null, (c, v) =>
        {
            if (v.String("metric_for_best_model").ToLowerInvariant() is not ("eval_loss" or "loss"))
                throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused,
                    $"'metric_for_best_model: {v.Scalar}' is not supported: the evaluations during training here compute the eval loss only (metric_for_best_model: eval_loss).",
                    v.Source, v.Line, column: v.Column);
        }),
        new("greater_is_better", "HF: false (the eval loss is better when lower); true is refused", c => null, (c, v) =>
        {
            if (v.Bool("greater_is_better"))
                throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused,
                    "'greater_is_better: true' is not supported: the metric here is the eval loss, which is better when lower (true would keep the worst adapter).",
                    v.Source, v.Line, column: v.Column);
        }),
        new("train_on_inputs", "Axolotl: learn the prompt tokens too", c => c.TrainOnInputs, (c, v) => c.TrainOnInputs = v.Bool("train_on_inputs")),
        new("special_tokens", "Axolotl: pad_token / eos_token / bos_token / unk_token, tokens of the model's vocabulary", c => string.Join(",", c.SpecialTokenOverrides.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")), (c, v) => c.SpecialTokenOverrides = SpecialTokens(v)),
        new("shuffle_merged_datasets", "Axolotl: true (the trainer shuffles with seed); false is refused", c => null, (c, v) => { if (!v.Bool("shuffle_merged_datasets")) throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused, "'shuffle_merged_datasets: false' is not supported: batches here are always drawn in a seeded shuffled order.", v.Source, v.Line, column: v.Column); }),
        new("bfloat16", "Axolotl: true = dtype: bfloat16", c => null, (c, v) => { c.axolotlBfloat16 = v.Bool("bfloat16"); ResolvePrecision(c); }),
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
        new("gradient_checkpointing", "recompute activations in backward (offload = true)", c => c.GradientCheckpointing, (c, v) => c.GradientCheckpointing = GradientCheckpointingValue(c, v)),
        new("seed", "random seed", c => c.Seed, (c, v) => c.Seed = v.Int("seed")),
        new("save_steps", "checkpoint every N steps (0 = off)", c => c.SaveSteps, (c, v) => { c.SaveSteps = v.Int("save_steps", 0, MaxCount); c.SaveStepsGiven = true; }),
        new("save_total_limit", "checkpoints kept", c => c.SaveTotalLimit, (c, v) => c.SaveTotalLimit = v.Int("save_total_limit", 1)),
        new("eval_steps", "evaluate every N steps (0 = at the end)", c => c.EvalSteps, (c, v) => c.EvalSteps = v.Int("eval_steps", 0, MaxCount)),
        new("logging_steps", "progress line every N steps", c => c.LoggingSteps, (c, v) => c.LoggingSteps = v.Int("logging_steps", 1, MaxCount)),
        new("device", "auto | cpu | cuda", c => c.Device, (c, v) => c.Device = v.OneOf("device", "auto", "cpu", "cuda")),
        new("dtype", "auto | float32 | bfloat16 | float16 (float16: with dynamic loss scaling, as fp16 mixed precision)",
            c => c.Dtype == "float16" && !c.LossScaling ? "float16 (no loss scaling)" : c.Dtype,
            (c, v) => { c.Dtype = v.OneOf("dtype", "auto", "float32", "bfloat16", "float16"); c.LossScaling = true; }),
        new("chat_template", "auto | chatml | llama3 (Axolotl's other names: the model's own template)", c => c.ChatTemplate, (c, v) => c.ChatTemplate = ChatTemplateName(c, v)),
        new("eval_max_new_tokens", "tokens generated for exact match", c => c.EvalMaxNewTokens, (c, v) => c.EvalMaxNewTokens = v.Int("eval_max_new_tokens", 1, MaxSequence)),
        new("val_set_size", "share (< 1) or count of training examples held out for eval", c => c.ValSetSize, (c, v) => c.ValSetSize = v.Double("val_set_size", 0, MaxCount)),

        // Axolotl spellings that are not one key of ours: mapped onto ours.
        new("datasets", "Axolotl: the training datasets, mixed", c => null, (c, v) => { c.Datasets = DatasetList(c, v, "datasets"); c.Dataset = c.Datasets[0].Path; }),
        new("test_datasets", "Axolotl: the evaluation datasets", c => null, (c, v) => { c.EvalDatasets = DatasetList(c, v, "test_datasets"); c.EvalDataset = c.EvalDatasets[0].Path; }),
        new("adapter", "Axolotl: lora | qlora (= quantization: nf4)", c => null, (c, v) => { if (v.OneOf("adapter", "lora", "qlora") == "qlora") SetQuantization(c, v, "adapter: qlora", "nf4"); }),
        new("load_in_4bit", "Axolotl: true = quantization: nf4", c => null, (c, v) => { if (v.Bool("load_in_4bit")) SetQuantization(c, v, "load_in_4bit", "nf4"); }),
        new("load_in_8bit", "Axolotl: true = quantization: int8 (bitsandbytes' row-wise int8 weights; weight-only, no LLM.int8 outlier matmul)", c => null, (c, v) =>
        {
            if (!v.Bool("load_in_8bit")) return;
            SetQuantization(c, v, "load_in_8bit", "int8");
            c.AddNote(v, "load_in_8bit: the base is held as int8 weights with one absmax per output row, as bitsandbytes' Int8Params stores them; " +
                "the matmul here is float over the dequantised weight (weight-only int8), not LLM.int8()'s int8 matmul with outlier decomposition, " +
                "so the result is close to but not bit-identical with bitsandbytes'.");
        }),
                new("lora_target_linear", "Axolotl: true = target_modules: all-linear", c => null, (c, v) => c.TargetLinear = v.Bool("lora_target_linear")),
        new("bf16", "Axolotl: true = dtype: bfloat16, false = float32, auto (bfloat16 on CUDA, float32 on CPU)", c => null, (c, v) => { c.axolotlBf16 = v.OneOf("bf16", "true", "false", "auto"); ResolvePrecision(c); }),
        new("fp16", "Axolotl: true = fp16 mixed precision: float16 compute, float32 adapter weights, dynamic loss scaling (dtype: float16)", c => null, (c, v) =>
        {
            c.axolotlFp16 = v.Bool("fp16");
            ResolvePrecision(c);
            if (c.axolotlFp16 && c.Dtype == "float16")
                c.AddNote(v, "fp16: float16 compute over a float16 base; the adapter's weights stay float32 (the optimizer's masters) and the loss is scaled " +
                    "dynamically as torch's GradScaler does (from 65536; a step whose gradients overflow is skipped and the scale halved; doubled after 2000 clean steps).");
        }),
        new("float16", "Axolotl: true = float16 weights without AMP (no loss scaling; fp16: true adds it)", c => null, (c, v) =>
        {
            c.axolotlFloat16 = v.Bool("float16");
            ResolvePrecision(c);
            if (c.axolotlFloat16 && c.Dtype == "float16" && !c.LossScaling)
                c.AddNote(v, "float16: the model is loaded and computed in float16 without AMP's loss scaling, as Axolotl's float16 (no AMP) trains: " +
                    "gradients below float16's range are lost; fp16: true scales the loss.");
        }),
        .. AxolotlKeys.Table.Select(AxolotlKeys.AsKey),
    ];

    /// <summary>
    /// Axolotl's resolve_dtype (utils/config): bf16: true or bfloat16: true gives bfloat16 whatever fp16 says; else fp16: true
    /// is fp16 mixed precision (float16 with loss scaling) and float16: true float16 without it; else bf16: false is float32
    /// and anything else bf16: auto (bfloat16 on CUDA, where torch reports bf16 support on every GPU; float32 on CPU, where
    /// Axolotl would fall back to fp16: float16 on CPU is slower and less exact, so auto keeps float32 here).
    /// </summary>
    static void ResolvePrecision(TrainingConfig c)
    {
        if (c.axolotlBf16 == "true" || c.axolotlBfloat16) c.Dtype = "bfloat16";
        else if (c.axolotlFp16 || c.axolotlFloat16)
        {
            c.Dtype = "float16";
            c.LossScaling = c.axolotlFp16;
        }
        else c.Dtype = c.axolotlBf16 == "false" ? "float32" : "auto";
        // A later key can override an earlier one's note (bf16: true over fp16, fp16 over float16): only the run's own stays.
        var stale = c.Dtype != "float16" ? ["fp16", "float16"] : c.LossScaling ? new[] { "float16" } : ["fp16"];
        foreach (var key in stale)
            if (c.notedKeys.Remove(key)) c.Notes.RemoveAll(n => n.Contains($": note: {key}: ", StringComparison.Ordinal));
    }

    /// <summary>
    /// Axolotl's 4-bit (adapter: qlora, load_in_4bit) and 8-bit (load_in_8bit) bases exclude each other, as there, within
    /// one file; a later source (--set on the command line) overrides the file's choice.
    /// </summary>
    static void SetQuantization(TrainingConfig c, Value v, string key, string scheme)
    {
        if (c.axolotlQuantization is { } earlier && earlier.Source == v.Source && c.Quantization != scheme)
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid,
                $"'{key}' asks for {Bits(scheme)} base but '{earlier.Key}' (line {earlier.Line}) asked for {Bits(c.Quantization)} one; " +
                "load_in_8bit and load_in_4bit / adapter: qlora exclude each other.", v.Source, v.Line, column: v.Column);
        c.Quantization = scheme;
        c.axolotlQuantization = (key, v.Source, v.Line);
        static string Bits(string s) => s == "int8" ? "an 8-bit" : "a 4-bit";
    }

    static bool GradientCheckpointingValue(TrainingConfig c, Value v)
    {
        if (v.Scalar?.ToLowerInvariant() != "offload") return v.Bool("gradient_checkpointing");
        c.AddNote(v, "gradient_checkpointing: offload = true here (activations are recomputed, not moved to CPU memory; the gradients are the same).");
        return true;
    }

    /// <summary>Axolotl's built-in template names: the model's own template is used (a note says so); chatml and llama3 are ours.</summary>
    static string ChatTemplateName(TrainingConfig c, Value v)
    {
        var name = v.String("chat_template").ToLowerInvariant();
        if (name is "auto" or "chatml" or "llama3") return name;
        if (name is "tokenizer_default" or "tokenizer_default_fallback_chatml") return "auto";
        if (name == "jinja") throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused, "'chat_template: jinja' (with chat_template_jinja) is not supported: put the template in the model folder's chat_template.jinja.", v.Source, v.Line, column: v.Column);
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9_.]+$")) throw v.Invalid("chat_template", "auto, chatml, llama3 or an Axolotl template name");
        c.AddNote(v, $"chat_template: '{name}' is one of Axolotl's built-in templates; the model's own chat template (tokenizer_config.json / chat_template.jinja) is used here, which is that template for models of that family.");
        return "auto";
    }

    static Dictionary<string, string> SpecialTokens(Value v)
    {
        var known = new[] { "pad_token", "eos_token", "bos_token", "unk_token" };
        var map = v.Mapping("special_tokens", s => s);
        foreach (var name in map.Keys.Where(k => !known.Contains(k)))
            throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused, $"special_tokens: '{name}' is not supported (pad_token, eos_token, bos_token, unk_token are).", v.Source, v.Line, column: v.Column);
        return map;
    }

    static List<DatasetSpec> DatasetList(TrainingConfig c, Value v, string key)
    {
        if (v.Node is null) throw v.Invalid(key, "a YAML list of {path, type} entries (give it in the config file)");
        var errors = new List<LoraBuildException>();
        var notes = new List<string>();
        var list = DatasetSpec.ParseList(v.Node, v.Source, key, errors, notes);
        c.Notes.AddRange(notes);
        if (errors.Count > 0) throw LoraBuildException.All(errors);
        return list;
    }

    /// <summary>Module names, or one regex (checked here, so a bad pattern is a located error rather than a crash later).</summary>
    /// <summary>Module names; each must name embed_tokens or lm_head (PEFT matches by suffix, as here when the model is loaded).</summary>
    static List<string> ModulesToSaveList(Value v)
    {
        var list = v.Strings("modules_to_save").Distinct(StringComparer.Ordinal).ToList();
        var other = list.FirstOrDefault(m => !("model.embed_tokens".EndsWith(m, StringComparison.Ordinal) || "lm_head".EndsWith(m, StringComparison.Ordinal)) || m.Length == 0);
        if (other is not null)
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid,
                $"'modules_to_save' entry '{other}' is not supported: only embed_tokens and lm_head can be trained whole beside the adapter here.", v.Source, v.Line, column: v.Column);
        return list;
    }

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
        var name = v.OneOf("optimizer", "adamw", "paged_adamw", "adamw_torch", "adamw_torch_fused", "adamw_hf", "paged_adamw_32bit", "paged_adamw_8bit", "adamw_bnb_8bit",
            "adamw_8bit", "adamw_torch_8bit", "adamw_torch_4bit");
        if (name.EndsWith("8bit", StringComparison.Ordinal) || name.EndsWith("4bit", StringComparison.Ordinal))
            c.AddNote(v, $"optimizer: {name}: the optimizer states are kept in 32 bits here (no 8-bit or 4-bit optimizer); the update is AdamW's, with less rounding.");
        return name.StartsWith("paged_", StringComparison.Ordinal) ? "paged_adamw" : "adamw";
    }

    public static Key? FindKey(string name) =>
        Keys.FirstOrDefault(k => k.Name == name || k.Aliases.Contains(name));

    /// <summary>Applies one setting; unknown keys are errors that name the key, where it was written, and the nearest known key.</summary>
    public void Apply(string name, Value value)
    {
        var key = FindKey(name) ?? throw new LoraBuildException(ErrorCodes.ConfigKeyUnknown,
            Suggest(name) is { } near ? $"Unknown key '{name}'. Did you mean '{near}'?" : $"Unknown key '{name}'. Known keys: {string.Join(", ", Keys.Select(k => k.Name))}.",
            value.Source, value.Line, column: value.Column);
        // "key:" with no value is unset, as in Axolotl (wandb_project:, lora_model_dir:, special_tokens:); a later empty
        // value (--set eval_dataset=) puts the key back to its default.
        if (value.IsEmpty)
        {
            Unset(key, value);
            return;
        }
        key.Set(this, value);
    }

    void Unset(Key key, Value at)
    {
        switch (key.Name)
        {
            case "eval_dataset" or "test_datasets":
                EvalDataset = null;
                EvalDatasets = [];
                return;
            case "dataset" or "datasets":
                Dataset = null;
                Datasets = [];
                return;
            case "special_tokens":
                SpecialTokenOverrides = new();
                return;
            case "early_stopping_patience":
                EarlyStoppingPatience = 0;
                return;
            case "modules_to_save":
                ModulesToSave = [];
                return;
            case "load_best_model_at_end":
                LoadBestModelAtEnd = false;
                return;
            case "bf16" or "fp16" or "float16" or "bfloat16":
                if (key.Name == "bf16") axolotlBf16 = null;
                axolotlFp16 &= key.Name != "fp16";
                axolotlFloat16 &= key.Name != "float16";
                axolotlBfloat16 &= key.Name != "bfloat16";
                ResolvePrecision(this);
                return;
        }
        if (key.Get(new TrainingConfig()) is { } fallback && Convert.ToString(fallback, CultureInfo.InvariantCulture) is { Length: > 0 } text)
            key.Set(this, at with { Scalar = text });
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
        if (string.IsNullOrEmpty(Dataset) && Datasets.Count == 0) throw Missing("dataset");
        if (BaseModelIsHubId)
            // The worker resolves a Hub id to its cached snapshot folder before training (lorabuild train); nothing else downloads.
            throw new LoraBuildException(ErrorCodes.HubSourceUnsupported,
                $"base_model '{BaseModel}' is a Hugging Face Hub model id that was not resolved to a folder: run it through `lorabuild train` (which downloads it into the HF cache), or give a local model folder.", source);
        if (WarmupRatio > 0 && WarmupSteps > 0) throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "warmup_steps and warmup_ratio are mutually exclusive (as in Axolotl).", source);
        if (SavesPerEpoch > 0 && SaveStepsGiven) throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "save_steps and saves_per_epoch are mutually exclusive (as in Axolotl).", source);
        if (EvalsPerEpoch > 0 && EvalSteps > 0) throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "eval_steps and evals_per_epoch are mutually exclusive (as in Axolotl).", source);
        if (string.IsNullOrEmpty(OutputDir)) throw Missing("output_dir");
        if (Method == "full" && (Quantization != "none" || UseDora || ModulesToSave.Count > 0))
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "method: full trains every weight; quantization, use_dora and modules_to_save apply to LoRA only.", source);
        if (MaxSteps == 0 && NumEpochs <= 0) throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "Set max_steps or a positive num_epochs.", source);
        if (EarlyStoppingPatience > 0 && (EvalSpecs.Count == 0 && ValSetSize <= 0 || EvalSteps == 0 && EvalsPerEpoch == 0))
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid,
                "early_stopping_patience needs evaluation during training: an eval set (eval_dataset, test_datasets or val_set_size) and eval_steps or evals_per_epoch " +
                "(as transformers' EarlyStoppingCallback requires an evaluation strategy).", source);
        if (LoadBestModelAtEnd)
        {
            if (EvalSpecs.Count == 0 && ValSetSize <= 0 || EvalSteps == 0 && EvalsPerEpoch == 0)
                throw new LoraBuildException(ErrorCodes.ConfigValueInvalid,
                    "load_best_model_at_end needs evaluation during training: an eval set (eval_dataset, test_datasets or val_set_size) and eval_steps or evals_per_epoch " +
                    "(as transformers requires an evaluation strategy for it).", source);
            if (SaveSteps == 0 && SavesPerEpoch == 0 || SavesPerEpoch == 0 && EvalsPerEpoch == 0 && SaveSteps % EvalSteps != 0)
                throw BestModelCadence(SaveSteps, EvalSteps, source);
        }
        if (ValSetSize > 0 && EvalDataset is not null)
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "Give eval_dataset or val_set_size, not both.", source);
    }

    /// <summary>transformers' TrainingArguments check: the best model is chosen among saved steps, so saves must fall on evaluations.</summary>
    public static LoraBuildException BestModelCadence(long saveSteps, long evalSteps, string source) =>
        new(ErrorCodes.ConfigValueInvalid,
            $"load_best_model_at_end needs checkpoints on evaluation steps: save steps ({saveSteps}) must be a positive multiple of the evaluation steps ({evalSteps}), " +
            "as transformers requires (save_steps / saves_per_epoch and eval_steps / evals_per_epoch).", source);

    public LoraConfig ToLoraConfig() => new()
    {
        R = R,
        LoraAlpha = LoraAlpha,
        LoraDropout = LoraDropout,
        TargetModuleList = TargetLinear || TargetModules is [var single] && (single == LoraConfig.AllLinear || IsRegex(single)) ? null : TargetModules,
        TargetModuleRegex = TargetLinear ? LoraConfig.AllLinear : TargetModules is [var one] && (one == LoraConfig.AllLinear || IsRegex(one)) ? one : null,
        UseRslora = UseRslora,
        UseDora = UseDora,
        RankPattern = RankPattern,
        AlphaPattern = AlphaPattern,
        InitLoraWeights = InitLoraWeights == "gaussian" ? LoraInit.Gaussian : LoraInit.Default,
        ModulesToSave = ModulesToSave.Count == 0 ? null : ModulesToSave,
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
