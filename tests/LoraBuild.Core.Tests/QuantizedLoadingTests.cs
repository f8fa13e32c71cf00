using LoraBuild.Adapters;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>QLoRA's quantise-while-loading gives exactly the model that loading and then quantising gives.</summary>
public class QuantizedLoadingTests
{
    public QuantizedLoadingTests() => TestPaths.EnsureTorch();

    [Theory]
    [InlineData("gemma3")]
    [InlineData("qwen3")]
    [InlineData("llama3-rope-tied")]
    public void Quantising_while_loading_equals_quantising_after(string family)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        var ids = golden.Read("input_ids");
        using var _ = no_grad();

        using var afterwards = ModelLoader.Load(TestPaths.Hf(family));
        LoraModel.QuantizeBaseNf4(afterwards, doubleQuantization: true);
        afterwards.eval();

        var loading = new Nf4Loading(doubleQuantization: true);
        using var whileLoading = ModelLoader.Load(TestPaths.Hf(family), nf4: loading);
        whileLoading.eval();
        Assert.True(loading.QuantizationTime > TimeSpan.Zero);

        foreach (var ((name, a), (_, b)) in afterwards.LinearLayers().Zip(whileLoading.LinearLayers()))
        {
            Assert.Equal(a.IsQuantized, b.IsQuantized);
            Assert.Equal(name != CausalLM.OutputHeadName, b.IsQuantized);
            if (!a.IsQuantized) continue;
            Assert.Equal(0, b.Weight.numel());
            Assert.True(a.Quantized!.Dequantize(ScalarType.Float32).eq(b.Quantized!.Dequantize(ScalarType.Float32)).all().item<bool>(), name);
        }
        Assert.True(afterwards.Forward(ids).eq(whileLoading.Forward(ids)).all().item<bool>(), $"{family}: logits differ");
    }
}
