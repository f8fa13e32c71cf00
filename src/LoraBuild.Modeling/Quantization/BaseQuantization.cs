namespace LoraBuild.Quantization;

/// <summary>
/// How the frozen base weights of a LoRA run are held (TrainingConfig <c>quantization</c>, lorabuild.json's
/// <c>quantization</c>): <c>nf4</c> (QLoRA, bitsandbytes' 4-bit NormalFloat) or <c>int8</c> (Axolotl's
/// <c>load_in_8bit</c>: bitsandbytes' row-wise int8 weights, weight-only).
/// </summary>
public sealed record BaseQuantization(string Scheme, bool DoubleQuantization = true)
{
    public const string None = "none";
    public const string Nf4 = "nf4";
    public const string Int8 = "int8";

    /// <summary>The scheme names a config or manifest may carry.</summary>
    public static readonly IReadOnlyList<string> Names = [None, Nf4, Int8];

    /// <summary>The scheme for a setting, or null for <c>none</c>.</summary>
    public static BaseQuantization? For(string name, bool doubleQuantization = true) => name switch
    {
        None => null,
        Nf4 or Int8 => new BaseQuantization(name, doubleQuantization),
        _ => throw new ArgumentException($"Unknown base quantization '{name}' (expected {string.Join(", ", Names)}).", nameof(name)),
    };

    public IQuantizedWeight Quantize(TorchSharp.torch.Tensor weight) =>
        Scheme == Int8 ? Int8RowwiseTensor.Quantize(weight) : Nf4Tensor.Quantize(weight, DoubleQuantization);

    /// <summary>How the run summary names the base.</summary>
    public string Description => Scheme == Int8 ? "an int8 (row-wise absmax, weight-only) base" : "an NF4 base";
}
