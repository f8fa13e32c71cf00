using LoraBuild.Diagnostics;
using static TorchSharp.torch;

namespace LoraBuild.SafeTensors;

public enum SafeTensorDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL }

public static class SafeTensorDTypes
{
    public static SafeTensorDType Parse(string text, string tensor, string path) => text switch
    {
        "F64" => SafeTensorDType.F64,
        "F32" => SafeTensorDType.F32,
        "F16" => SafeTensorDType.F16,
        "BF16" => SafeTensorDType.BF16,
        "I64" => SafeTensorDType.I64,
        "I32" => SafeTensorDType.I32,
        "I16" => SafeTensorDType.I16,
        "I8" => SafeTensorDType.I8,
        "U8" => SafeTensorDType.U8,
        "BOOL" => SafeTensorDType.BOOL,
        _ => throw new LoraBuildException(ErrorCodes.SafeTensorsDType,
            $"Tensor '{tensor}': dtype '{text}' is not supported (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL).", path),
    };

    public static bool IsFloatingPoint(this SafeTensorDType dtype) =>
        dtype is SafeTensorDType.F64 or SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16;

    public static int Size(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.I16 => 2,
        _ => 1,
    };

    public static ScalarType ToScalarType(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F64 => ScalarType.Float64,
        SafeTensorDType.F32 => ScalarType.Float32,
        SafeTensorDType.F16 => ScalarType.Float16,
        SafeTensorDType.BF16 => ScalarType.BFloat16,
        SafeTensorDType.I64 => ScalarType.Int64,
        SafeTensorDType.I32 => ScalarType.Int32,
        SafeTensorDType.I16 => ScalarType.Int16,
        SafeTensorDType.I8 => ScalarType.Int8,
        SafeTensorDType.U8 => ScalarType.Byte,
        _ => ScalarType.Bool,
    };

    public static SafeTensorDType FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Float64 => SafeTensorDType.F64,
        ScalarType.Float32 => SafeTensorDType.F32,
        ScalarType.Float16 => SafeTensorDType.F16,
        ScalarType.BFloat16 => SafeTensorDType.BF16,
        ScalarType.Int64 => SafeTensorDType.I64,
        ScalarType.Int32 => SafeTensorDType.I32,
        ScalarType.Int16 => SafeTensorDType.I16,
        ScalarType.Int8 => SafeTensorDType.I8,
        ScalarType.Byte => SafeTensorDType.U8,
        ScalarType.Bool => SafeTensorDType.BOOL,
        _ => throw new NotSupportedException($"safetensors has no dtype for {type}."),
    };
}
