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

    // Serving: the generation engine, IChatClient and `lorabuild serve` (0310-0349)
    public const string ServeEmptyPrompt = "LB0310";
    public const string ServeBadSampling = "LB0311";
    public const string ServeNoChatTemplate = "LB0312";
    public const string ServeBadMessage = "LB0313";
}
