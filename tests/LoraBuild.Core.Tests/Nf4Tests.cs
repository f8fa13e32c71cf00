using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.Quantization;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

public class Nf4Tests
{
    public Nf4Tests() => TestPaths.EnsureTorch();

    [Fact]
    public void Code_table_equals_the_published_nf4_values()
    {
        // QLoRA paper, appendix E / bitsandbytes create_normal_map(): 16 values, exact zero, symmetric ends at +-1.
        float[] published =
        [
            -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
            0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
            0.7229568362236023f, 1.0f,
        ];
        Assert.Equal(published, Nf4Tensor.CodeValues);
    }

    [Fact]
    public void Code_values_survive_a_round_trip_exactly()
    {
        using var scope = NewDisposeScope();
        // Each block holds every code value scaled by 3; absmax = 3 so each value maps to itself.
        var values = tensor(Nf4Tensor.CodeValues).repeat(4) * 3f;
        using var q = Nf4Tensor.Quantize(values.view(1, 64), doubleQuantization: false);
        Assert.True(q.Dequantize(ScalarType.Float32).view(-1).allclose(values, rtol: 0, atol: 1e-6));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Normal_weights_round_trip_within_the_expected_error(bool doubleQuant)
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        var w = randn(512, 1024);
        using var q = Nf4Tensor.Quantize(w, doubleQuant);
        var restored = q.Dequantize(ScalarType.Float32);
        Assert.Equal(w.shape, restored.shape);
        var error = restored - w;
        var rmse = error.pow(2).mean().sqrt().item<float>();
        // For N(0,1) in blocks of 64 (absmax ~2.4 sigma) NF4's 16 levels give an RMS error near 0.1 sigma;
        // the largest error is half the widest code gap (0.152) times the block absmax.
        Assert.InRange(rmse, 0.08f, 0.12f);
        var maxRelative = (error.abs().view(-1, 64).amax([1L]) / w.abs().view(-1, 64).amax([1L])).max().item<float>();
        Assert.True(maxRelative <= 0.1520f + 0.01f, $"max error / absmax = {maxRelative}");
        // Double quantization of the constants costs almost nothing in accuracy.
        if (doubleQuant)
        {
            using var single = Nf4Tensor.Quantize(w, false);
            var rmseSingle = (single.Dequantize(ScalarType.Float32) - w).pow(2).mean().sqrt().item<float>();
            Assert.InRange(rmse / rmseSingle, 0.99f, 1.02f);
        }
    }

    [Fact]
    public void Quantized_base_takes_under_0_3x_of_its_bf16_bytes()
    {
        using var scope = NewDisposeScope();
        var w = randn(1024, 1024);
        using var q = Nf4Tensor.Quantize(w, doubleQuantization: true);
        var bf16Bytes = w.numel() * 2;
        Assert.True(q.StorageBytes <= 0.3 * bf16Bytes, $"{q.StorageBytes} bytes vs bf16 {bf16Bytes}");
        using var single = Nf4Tensor.Quantize(w, doubleQuantization: false);
        Assert.True(q.StorageBytes < single.StorageBytes);
    }

    [Fact]
    public void Quantized_model_runs_and_merges_into_the_weights_it_trained_against()
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        var ids = golden.Read("input_ids");
        using var model = ModelLoader.Load(TestPaths.Hf("llama"));
        var denseBytes = model.LinearLayers().Where(l => l.Name != "lm_head").Sum(l => l.Layer.BaseWeightBytes);
        LoraModel.QuantizeBaseNf4(model, doubleQuantization: true);
        var nf4Bytes = model.LinearLayers().Where(l => l.Name != "lm_head").Sum(l => l.Layer.BaseWeightBytes);
        Assert.True(nf4Bytes < 0.3 * denseBytes / 2, $"{nf4Bytes} vs fp32 {denseBytes}");

        PeftAdapter.Load(TestPaths.Hf("llama", "adapter-dora"), model, "default");
        LoraModel.SetActiveAdapters(model, "default");
        model.eval();
        using var _ = no_grad();
        var withAdapter = model.Forward(ids);
        // Close to the full-precision model, not equal: 4-bit weights.
        var drift = (withAdapter - golden.Read("dora_logits")).abs().max().item<float>();
        Assert.InRange(drift, 1e-6f, 0.5f);
        LoraModel.Merge(model, "default");
        Assert.False(model.LinearLayers().First().Layer.IsQuantized);
        AdapterParityTests.AssertClose(withAdapter, model.Forward(ids), 1e-4, "QDoRA merged into dequant(NF4(W))");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Four_bit_matmul_equals_dequantise_then_linear_with_its_gradient(bool withBias)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var weight = Nf4Tensor.Quantize(randn(48, 64), doubleQuantization: true);
        var bias = withBias ? randn(48) : null;
        var x = randn(2, 5, 64).requires_grad_(true);
        var upstream = randn(2, 5, 48);

        var expected = nn.functional.linear(x, weight.Dequantize(ScalarType.Float32), bias);
        expected.backward([upstream]);
        var expectedGrad = x.grad!.clone();
        x.grad!.zero_();

        var actual = QuantizedLinear.apply([x, weight, .. bias is null ? Array.Empty<object>() : [bias]]);
        // The node's empty_like output cache is dropped right away (pins TorchSharp's private field: see AutogradOutputCache).
        Assert.Equal(1, AutogradOutputCache.Release());
        actual.backward([upstream]);
        Assert.Equal(0f, (actual - expected).abs().max().item<float>());
        Assert.True(x.grad!.allclose(expectedGrad, rtol: 1e-6, atol: 1e-6));
    }

    /// <summary>
    /// QLoRA training keeps no dense copy of the base weights for backward: the process's resident memory grows by the
    /// activations only, where dequantise-then-linear grows by every dense weight too.
    /// </summary>
    [Fact]
    public void Four_bit_matmul_keeps_no_dense_weight_for_backward()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        // 64 MiB float32 weights: above glibc's largest mmap threshold, so each dense copy shows in resident memory
        // while it lives and leaves it when freed.
        var weights = Enumerable.Range(0, 4).Select(_ => Nf4Tensor.Quantize(randn(4096, 4096), doubleQuantization: true)).ToList();
        long Growth(bool fourBit)
        {
            using var inner = NewDisposeScope();
            var x = randn(16, 4096).requires_grad_(true);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var before = HostMemory.ResidentBytes();
            var h = x;
            foreach (var w in weights)
            {
                h = fourBit ? QuantizedLinear.apply(h, w) : nn.functional.linear(h, w.Dequantize(ScalarType.Float32));
                if (fourBit) AutogradOutputCache.Release();
            }
            var growth = HostMemory.ResidentBytes() - before;
            h.sum().backward();
            Assert.NotNull(x.grad);
            return growth;
        }
        var plain = Growth(fourBit: false);
        var fourBit = Growth(fourBit: true);
        foreach (var w in weights) w.Dispose();
        // 4 dense float32 weights are 256 MiB; the activations are 4 x 256 KiB.
        Assert.True(plain > 200L << 20, $"plain path grew by {plain >> 20} MiB");
        Assert.True(fourBit < 32L << 20, $"4-bit path grew by {fourBit >> 20} MiB");
    }

    [Fact]
    public void Qlora_gradients_equal_those_over_the_dequantised_base()
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        var ids = golden.Read("input_ids");
        IReadOnlyList<(string Key, Tensor Grad)> Gradients(bool keepNf4)
        {
            using var model = ModelLoader.Load(TestPaths.Hf("llama"));
            LoraModel.QuantizeBaseNf4(model, doubleQuantization: true);
            if (!keepNf4) foreach (var (_, layer) in model.LinearLayers()) layer.Dequantize();
            PeftAdapter.Load(TestPaths.Hf("llama", "adapter-lora"), model, "default");
            LoraModel.SetActiveAdapters(model, "default");
            model.train();
            model.TrainingLoss(ids, ids, divisor: 1).backward();
            return LoraModel.AdapterParameters(model, "default").Select(p => (p.Key, p.Parameter.grad!.clone())).ToList();
        }
        var overNf4 = Gradients(keepNf4: true);
        var overDense = Gradients(keepNf4: false);
        Assert.Equal(overDense.Select(g => g.Key), overNf4.Select(g => g.Key));
        foreach (var ((key, expected), (_, actual)) in overDense.Zip(overNf4))
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-7), key);
    }
}
