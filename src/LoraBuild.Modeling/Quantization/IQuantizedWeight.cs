using static TorchSharp.torch;

namespace LoraBuild.Quantization;

/// <summary>
/// A frozen base weight held in fewer bits than its dtype (NF4 for QLoRA, row-wise int8 for <c>load_in_8bit</c>):
/// LoRA layers and the quantised matmul need only its logical shape, its size and a dense copy on demand.
/// </summary>
public interface IQuantizedWeight : IDisposable
{
    long[] Shape { get; }
    long ElementCount { get; }
    /// <summary>Bytes this weight occupies: codes plus quantisation constants.</summary>
    long StorageBytes { get; }
    /// <summary>A dense copy in <paramref name="dtype"/>; the caller owns it.</summary>
    Tensor Dequantize(ScalarType dtype);
}
