using LoraBuild.Diagnostics;
using static TorchSharp.torch;

namespace LoraBuild.Native;

/// <summary>Turns the user's device and dtype choices (auto | cpu | cuda; auto | float32 | bfloat16 | float16) into a torch device and dtype.</summary>
public static class DeviceSelection
{
    /// <summary>
    /// auto picks CUDA when the loaded libtorch has a usable device; the dtype defaults to bf16 on CUDA and float32 on CPU.
    /// Asking for cuda where there is none is <paramref name="errorCode"/>, naming <paramref name="askedBy"/> (the flag or key).
    /// </summary>
    public static (Device Device, ScalarType DType) Resolve(string device, string? dtype, string errorCode, string askedBy)
    {
        var runtime = TorchRuntime.EnsureLoaded();
        var useCuda = device switch
        {
            "cuda" when !runtime.CudaAvailable => throw new LoraBuildException(errorCode,
                $"{askedBy} was asked for, but the libtorch in use ({runtime.LibTorchSource}: {runtime.LibTorchDirectory}) has no usable CUDA device."),
            "cuda" => true,
            "auto" => runtime.CudaAvailable,
            _ => false,
        };
        var type = dtype switch
        {
            "float32" => ScalarType.Float32,
            "bfloat16" => ScalarType.BFloat16,
            "float16" => ScalarType.Float16,
            _ => useCuda ? ScalarType.BFloat16 : ScalarType.Float32,
        };
        return (useCuda ? CUDA : CPU, type);
    }
}
