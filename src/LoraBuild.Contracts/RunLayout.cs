namespace LoraBuild;

/// <summary>
/// The names of what a run writes, shared by the worker (which writes them), the tasks (which check, gate, copy and
/// pack them) and the targets (which get full paths as item metadata from PrepareLoraAdapters). A run folder holds
/// <see cref="AdapterFolder"/> (PEFT) or <see cref="ModelFolder"/> (full fine-tuning), <see cref="MetricsFile"/>, the
/// loss curves, <see cref="CheckpointsFolder"/> while training, and <see cref="RunFile"/>, written last, which marks the
/// run complete. The SDK keeps each adapter's run under obj/lorabuild/&lt;name&gt;/<see cref="RunFolder"/>, beside the
/// <see cref="StampFile"/> and, with Merge, <see cref="MergedFolder"/>.
/// </summary>
public static class RunLayout
{
    public const string RunFolder = "run";
    public const string AdapterFolder = "adapter";
    public const string ModelFolder = "model";
    public const string CheckpointsFolder = "checkpoints";
    public const string MetricsFile = "metrics.json";
    public const string LossCurveSvgFile = "loss_curve.svg";
    public const string LossCurvePngFile = "loss_curve.png";
    public const string RunFile = "run.json";
    /// <summary>Beside the PEFT files in the adapter folder: the base model's sha256, quantization, fingerprint.</summary>
    public const string ManifestFile = "lorabuild.json";
    public const string AdapterConfigFile = "adapter_config.json";
    public const string StampFile = "lorabuild.fingerprint";
    public const string MergedFolder = "merged";

    /// <summary>Files of the run folder that travel with an adapter (in its package, beside the adapter files).</summary>
    public static readonly string[] RunFilesShipped = [MetricsFile, LossCurveSvgFile, LossCurvePngFile];

    /// <summary>Where an adapter's files sit inside an adapter package.</summary>
    public static string PackageFolder(string adapterName) => $"lora/{adapterName}/";
}
