using System.CommandLine;
using LoraBuild.Diagnostics;
using LoraBuild.Native;
using static TorchSharp.torch;

namespace LoraBuild.Cli.Commands;

/// <summary>Options shared by commands that run a model, and their resolution to a torch device and dtype.</summary>
public static class CommonOptions
{
    /// <summary>--model: a model folder, or a Hub id "org/name[@rev]" (the one place commands turn an id into its cached snapshot folder).</summary>
    public static Option<string> Model() => new("--model")
    {
        Description = "Hugging Face model folder (config.json + safetensors), or a Hub id org/name[@revision] (downloaded into the HF cache).",
        Required = true,
        CustomParser = result => Hub.HubModels.Locate(result.Tokens.Single().Value),
    };

    public static Option<string> Device()
    {
        var option = new Option<string>("--device") { Description = "auto | cpu | cuda", DefaultValueFactory = _ => "auto" };
        option.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        return option;
    }

    public static Option<string?> DType()
    {
        var option = new Option<string?>("--dtype") { Description = "float32 | bfloat16 | float16 (default: float32 on CPU, bfloat16 on CUDA)" };
        option.AcceptOnlyFromAmong("float32", "bfloat16", "float16");
        return option;
    }

    public static (Device Device, ScalarType DType) Resolve(string device, string? dtype) =>
        DeviceSelection.Resolve(device, dtype, ErrorCodes.BadArgument, $"--device {device}");
}
