namespace LoraBuild;

/// <summary>
/// The metadata a &lt;LoraAdapter&gt; item may carry, its kind, and the worker's training key it becomes (a key of the
/// worker's TrainingConfig.Keys, which alone defines what each key means). Written once here: the tasks validate and
/// fingerprint items and build the worker's command line from it; a test checks every key exists in the worker.
/// Anything else reaches the worker through TrainingSettings="key=value;...".
/// </summary>
public static class AdapterItemSettings
{
    public enum Kind { Path, Integer, Number, Boolean, Text, Choice }

    public sealed record Setting(string Metadata, string WorkerKey, Kind Kind, params string[] Choices);

    public static readonly IReadOnlyList<Setting> All =
    [
        new("BaseModel", "base_model", Kind.Path),
        new("BaseModelId", "base_model_id", Kind.Text),
        // A BaseModel given as a Hub id: its revision (default main); the commit is set by the SDK from lora.lock.json.
        new("BaseModelRevision", "revision_of_model", Kind.Text),
        new("BaseModelCommit", "base_model_commit", Kind.Text),
        new("Dataset", "dataset", Kind.Path),
        new("EvalDataset", "eval_dataset", Kind.Path),
        new("Rank", "r", Kind.Integer),
        new("Alpha", "lora_alpha", Kind.Number),
        new("Dropout", "lora_dropout", Kind.Number),
        new("TargetModules", "target_modules", Kind.Text),
        new("Quantization", "quantization", Kind.Choice, "none", "nf4", "int8"),
        new("UseDora", "use_dora", Kind.Boolean),
        new("UseRsLora", "use_rslora", Kind.Boolean),
        new("Method", "method", Kind.Choice, "lora", "full"),
        new("LearningRate", "learning_rate", Kind.Number),
        new("Epochs", "num_epochs", Kind.Number),
        new("MaxSteps", "max_steps", Kind.Integer),
        new("BatchSize", "micro_batch_size", Kind.Integer),
        new("SequenceLength", "sequence_len", Kind.Integer),
        new("Seed", "seed", Kind.Integer),
    ];

    /// <summary>
    /// GGUF export after the build (docs/gguf.md, "From the SDK"): here WorkerKey is the option of
    /// <c>lorabuild export gguf</c> the metadata becomes, not a training key; none of these enters the adapter's
    /// fingerprint (an export setting never retrains). ExportType's default, f16, is the worker's.
    /// </summary>
    public static readonly IReadOnlyList<Setting> Export =
    [
        new("Export", "export", Kind.Choice, "gguf"),
        new("ExportMerged", "--merge", Kind.Boolean),
        new("ExportType", "--outtype", Kind.Choice, "f32", "f16", "bf16", "q8_0"),
    ];

    /// <summary>Item metadata that is not a training key: the YAML file, free-form settings, merge, and gate wiring.</summary>
    public static readonly IReadOnlyList<string> OtherMetadata = ["Config", "TrainingSettings", "Merge"];
}
