using LoraBuild.Adapters;
using LoraBuild.Models;
using LoraBuild.Quantization;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>Quantise-while-loading (NF4 for QLoRA, int8 for load_in_8bit) gives exactly the model that loading and then quantising gives.</summary>
public class QuantizedLoadingTests
{
    public QuantizedLoadingTests() => TestPaths.EnsureTorch();

    [Theory]
    [InlineData("gemma3", "nf4")]
    [InlineData("qwen3", "nf4")]
    [InlineData("llama3-rope-tied", "nf4")]
    [InlineData("qwen3", "int8")]
    [InlineData("llama3-rope-tied", "int8")]
    public void Quantising_while_loading_equals_quantising_after(string family, string schemeName)
    {
        var scheme = BaseQuantization.For(schemeName, doubleQuantization: true)!;
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        var ids = golden.Read("input_ids");
        using var _ = no_grad();

        using var afterwards = ModelLoader.Load(TestPaths.Hf(family));
        LoraModel.QuantizeBase(afterwards, scheme);
        afterwards.eval();

        var loading = new QuantizedLoading(scheme);
        using var whileLoading = ModelLoader.Load(TestPaths.Hf(family), quantize: loading);
        whileLoading.eval();
        Assert.True(loading.QuantizationTime > TimeSpan.Zero);

        foreach (var ((name, a), (_, b)) in afterwards.LinearLayers().Zip(whileLoading.LinearLayers()))
        {
            Assert.Equal(a.IsQuantized, b.IsQuantized);
            Assert.Equal(name != CausalLM.OutputHeadName, b.IsQuantized);
            if (!a.IsQuantized) continue;
            Assert.Equal(0, b.Weight.numel());
            Assert.Equal(schemeName == "int8" ? typeof(Int8RowwiseTensor) : typeof(Nf4Tensor), b.Quantized!.GetType());
            Assert.True(a.Quantized!.Dequantize(ScalarType.Float32).eq(b.Quantized!.Dequantize(ScalarType.Float32)).all().item<bool>(), name);
        }
        Assert.True(afterwards.Forward(ids).eq(whileLoading.Forward(ids)).all().item<bool>(), $"{family}: logits differ");
    }
}
