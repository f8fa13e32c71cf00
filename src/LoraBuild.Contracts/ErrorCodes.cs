namespace LoraBuild.Diagnostics;

/// <summary>Every error code LoraBuild emits, in one place so none is reused. Documented in docs/errors.md.</summary>
public static class ErrorCodes
{
    // Native runtime (0001-0009)
    public const string NoLibTorch = "LB0001";
    public const string NativeIncompatible = "LB0002";
    public const string LibTorchSharpMissing = "LB0003";
    public const string LibTorchNotRestored = "LB0004"; // raised by the runtime package's publish target (MSBuild)

    // Safetensors (0010-0029)
    public const string SafeTensorsTooSmall = "LB0010";
    public const string SafeTensorsHeaderLength = "LB0011";
    public const string SafeTensorsHeaderJson = "LB0012";
    public const string SafeTensorsDType = "LB0013";
    public const string SafeTensorsOffsets = "LB0014";
    public const string SafeTensorsOverlap = "LB0015";
    public const string SafeTensorsMissingTensor = "LB0016";
    public const string SafeTensorsIndex = "LB0017";
    public const string PickleRefused = "LB0018";
    public const string SafeTensorsCoverage = "LB0019";
    public const string SafeTensorsDTypeMismatch = "LB0020";
    public const string SafeTensorsMissingFile = "LB0021";
    public const string SafeTensorsNonFinite = "LB0022";

    // Model folders (0030-0049)
    public const string ConfigMissing = "LB0030";
    public const string ConfigInvalid = "LB0031";
    public const string UnknownModelType = "LB0032";
    public const string WeightsMissing = "LB0033";
    public const string TensorShapeMismatch = "LB0034";
    public const string TensorMissing = "LB0035";
    public const string TensorUnexpected = "LB0036";
    public const string UnsupportedRopeScaling = "LB0037";

    // Adapters (0050-0069)
    public const string AdapterConfigMissing = "LB0050";
    public const string AdapterConfigInvalid = "LB0051";
    public const string AdapterShapeMismatch = "LB0052";
    public const string AdapterTargetNotFound = "LB0053";
    public const string AdapterUnsupported = "LB0054";
    public const string AdapterTensorMissing = "LB0055";

    // Tokenizer (0070-0079)
    public const string TokenizerMissing = "LB0070";
    public const string TokenizerUnsupported = "LB0071";
    public const string TokenizerInvalid = "LB0072";

    // Training data (0100-0119)
    public const string DatasetMissing = "LB0100";
    public const string DatasetLineInvalid = "LB0101";
    public const string DatasetEmpty = "LB0102";
    public const string ChatTemplateUnsupported = "LB0103";

    // Chat templates and Jinja (0150-0159)
    public const string ChatTemplateSyntax = "LB0150";
    public const string ChatTemplateRender = "LB0151";
    public const string ChatTemplateMissing = "LB0152";
    public const string ChatTemplateAssistantSpan = "LB0153";

    // Training configuration and runs (0120-0149)
    public const string ConfigKeyUnknown = "LB0120";
    public const string ConfigValueInvalid = "LB0121";
    public const string ConfigFileInvalid = "LB0122";
    public const string TrainingDiverged = "LB0130";
    public const string CheckpointInvalid = "LB0131";
    public const string OutputInvalid = "LB0132";
    public const string AdapterManifestInvalid = "LB0133";
    public const string AdapterWithoutProvenance = "LB0134";
    public const string NothingToLearn = "LB0135";
    public const string OutputLocked = "LB0136";
    public const string DiskFull = "LB0137";
    public const string OutputWriteFailed = "LB0138";

    // Build experience (0250-0269); raised by the SDK's targets and tasks, listed here so no code is reused.
    public const string MSBuildTooOld = "LB0250";
    public const string RegressionFromPrevious = "LB0251";
    public const string PreviousVersionUnreadable = "LB0252";

    // Command line (0090-0099)
    public const string BadArgument = "LB0090";
    public const string InputFileInvalid = "LB0091";
    public const string InternalError = "LB0099";

    // GGUF export for llama.cpp, Ollama, LM Studio (0600-0629)
    public const string GgufModelUnsupported = "LB0600";
    public const string GgufTensorUnmapped = "LB0601";
    public const string GgufTokenizerUnsupported = "LB0602";
    public const string GgufRopeUnsupported = "LB0603";
    public const string GgufDoraAdapter = "LB0604";
    public const string GgufAdapterUnsupported = "LB0605";
    public const string GgufArguments = "LB0606";

    // Hugging Face Hub: base models and datasets by id, the HF cache, lora.lock.json (0400-0449)
    public const string HubRepoNotFound = "LB0400";
    public const string HubRevisionNotFound = "LB0401";
    public const string HubFileNotFound = "LB0402";
    public const string HubGatedRepo = "LB0403";
    public const string HubUnauthorized = "LB0404";
    public const string HubOfflineNotCached = "LB0405";
    public const string HubUnreachable = "LB0406";
    public const string HubChecksumMismatch = "LB0407";
    public const string HubIdInvalid = "LB0408";
    public const string HubProtocol = "LB0409";
    public const string HubCacheWriteFailed = "LB0410";
    public const string LockFileMissing = "LB0420";
    public const string LockFileOutOfDate = "LB0421";
    public const string LockFileInvalid = "LB0422";

    // Datasets as people have them and Axolotl configs (0500-0549)
    /// <summary>An Axolotl key this worker understands but cannot honour; ignoring it would change the result.</summary>
    public const string AxolotlKeyRefused = "LB0500";
    /// <summary>A datasets entry that cannot be used: unknown type, missing or contradictory fields.</summary>
    public const string DatasetSpecInvalid = "LB0501";
    /// <summary>A Hugging Face Hub dataset or model id where this build has no Hub client yet.</summary>
    public const string HubSourceUnsupported = "LB0502";
    /// <summary>A row of a dataset that the dataset type cannot use (a missing column, a null, a wrong type); names file and row.</summary>
    public const string DatasetRowInvalid = "LB0503";
    /// <summary>A dataset file that is not one of the readable formats, or cannot be read as the format its name says.</summary>
    public const string DatasetFileUnreadable = "LB0504";

    // Serving: the generation engine, IChatClient and `lorabuild serve` (0310-0349)
    public const string ServeEmptyPrompt = "LB0310";
    public const string ServeBadSampling = "LB0311";
    public const string ServeNoChatTemplate = "LB0312";
    public const string ServeBadMessage = "LB0313";

    // GGUF export from the SDK: <LoraAdapter Export="gguf" /> and the Ollama Modelfile (0607-0629)
    /// <summary>The worker's export ended without reporting a coded error (killed, crashed); nothing was marked exported.</summary>
    public const string GgufExportWorkerFailed = "LB0607";
    /// <summary>A Modelfile was asked for a model GGUF (base or merged) with a separate FROM: only an adapter applies on a base.</summary>
    public const string ModelfileArguments = "LB0608";

    // Hub datasets and Hub base models in configs (0440-0449)
    /// <summary>A Hub dataset repository with no data file LoraBuild reads (Parquet, JSONL, JSON, CSV) for the entry, nor a refs/convert/parquet branch.</summary>
    public const string HubDatasetNoDataFiles = "LB0440";
    /// <summary>A Hub dataset's split (the entry's split:) that the repository's data files do not hold; the message lists those it holds.</summary>
    public const string HubDatasetSplitMissing = "LB0441";
    /// <summary>A Hub dataset's config (the entry's name:) that the repository does not have; the message lists those it has.</summary>
    public const string HubDatasetConfigMissing = "LB0442";
    /// <summary>A Hub dataset's README.md YAML configs: section that cannot be read.</summary>
    public const string HubDatasetCardInvalid = "LB0443";
}
