using LoraBuild.Adapters;
using LoraBuild.Models;
using LoraBuild.Quantization;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// The int8 base (Axolotl's load_in_8bit): bitsandbytes' row-wise absmax int8 weights, checked against a reference
/// computed here in double precision, against the transformers golden logits of a fixture model, and in training.
/// </summary>
public class Int8Tests
{
    public Int8Tests() => TestPaths.EnsureTorch();

    /// <summary>A small matrix with a zero row, a row whose largest magnitude is negative, and values on exact steps.</summary>
    static float[,] SmallMatrix()
    {
        var random = new Random(20);
        var m = new float[5, 11];
        for (var r = 0; r < 5; r++)
        for (var c = 0; c < 11; c++)
            m[r, c] = r == 2 ? 0f : (float)((random.NextDouble() * 2 - 1) * (r + 1) * 0.37);
        m[3, 4] = -9.5f;
        // Row 4: absmax 2.54, so k·0.02 is exactly code k (a value on a step must come back as that step).
        for (var c = 0; c < 11; c++) m[4, c] = (c - 5) * 0.02f;
        m[4, 10] = 2.54f;
        return m;
    }

    [Fact]
    public void Codes_and_scales_equal_an_independent_rowwise_absmax_reference()
    {
        using var scope = NewDisposeScope();
        var m = SmallMatrix();
        var (rows, cols) = (m.GetLength(0), m.GetLength(1));
        using var q = Int8RowwiseTensor.Quantize(tensor(m));
        var codes = q.Codes.to_type(ScalarType.Int32).data<int>().ToArray();
        var absmax = q.RowAbsmax.data<float>().ToArray();
        var dequantised = q.Dequantize(ScalarType.Float64).data<double>().ToArray();
        for (var r = 0; r < rows; r++)
        {
            // bitsandbytes' int8_vectorwise_quant: absmax of the row; code = round(w · 127 / absmax) (ties to even); SCB = absmax.
            var rowAbsmax = Enumerable.Range(0, cols).Max(c => Math.Abs((double)m[r, c]));
            Assert.Equal(rowAbsmax, absmax[r]);
            for (var c = 0; c < cols; c++)
            {
                var expectedCode = rowAbsmax == 0 ? 0 : (int)Math.Round(m[r, c] * 127.0 / rowAbsmax, MidpointRounding.ToEven);
                Assert.True(expectedCode == codes[r * cols + c], $"[{r},{c}] = {m[r, c]}: code {codes[r * cols + c]}, expected {expectedCode}");
                var expectedValue = expectedCode * rowAbsmax / 127.0;
                Assert.True(Math.Abs(expectedValue - dequantised[r * cols + c]) <= 1e-6 * Math.Max(rowAbsmax, 1e-30),
                    $"[{r},{c}]: dequantised {dequantised[r * cols + c]}, expected {expectedValue}");
            }
        }
        // The row extremes are exact (code ±127), the zero row stays zero, values on a step come back as that step.
        Assert.Equal(-127, codes[3 * cols + 4]);
        Assert.Equal(-9.5, dequantised[3 * cols + 4], 5);
        Assert.All(Enumerable.Range(0, cols), c => Assert.Equal(0.0, dequantised[2 * cols + c]));
        Assert.Equal(Enumerable.Range(0, 10).Select(c => c - 5).Append(127), codes.Skip(4 * cols).Take(cols));
    }

    [Fact]
    public void Error_is_at_most_half_a_step_of_its_row_and_storage_is_a_quarter_of_float32()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var w = randn(256, 512) * linspace(0.01, 3, 256).unsqueeze(1);
        using var q = Int8RowwiseTensor.Quantize(w);
        var error = (q.Dequantize(ScalarType.Float32) - w).abs().amax([1L]);
        var halfStep = w.abs().amax([1L]) / 254;
        Assert.True((error <= halfStep * 1.0001 + 1e-7).all().item<bool>(), $"largest error / half step = {(error / halfStep).max().item<float>()}");
        // int8 codes plus one float32 per row, as bitsandbytes' CB + SCB.
        Assert.Equal(256L * 512 + 256 * 4, q.StorageBytes);
        Assert.True(q.StorageBytes < 0.26 * w.numel() * 4);
    }

    [Fact]
    public void Int8_model_stays_within_its_error_bound_of_the_golden_logits_and_far_closer_than_nf4()
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        var ids = golden.Read("input_ids");
        var expected = golden.Read("logits");
        using var noGrad = no_grad();
        float Drift(BaseQuantization scheme, out long baseBytes, out long denseBytes)
        {
            using var model = ModelLoader.Load(TestPaths.Hf("llama"));
            denseBytes = model.LinearLayers().Where(l => l.Name != CausalLM.OutputHeadName).Sum(l => l.Layer.BaseWeightBytes);
            LoraModel.QuantizeBase(model, scheme);
            baseBytes = model.LinearLayers().Where(l => l.Name != CausalLM.OutputHeadName).Sum(l => l.Layer.BaseWeightBytes);
            Assert.All(model.LinearLayers(), l => Assert.Equal(l.Name != CausalLM.OutputHeadName, l.Layer.IsQuantized));
            model.eval();
            return (model.Forward(ids) - expected).abs().max().item<float>();
        }
        var int8 = Drift(new BaseQuantization(BaseQuantization.Int8), out var int8Bytes, out var dense);
        var nf4 = Drift(new BaseQuantization(BaseQuantization.Nf4), out _, out _);
        // Memory: int8 codes + a float per row, about a quarter of the float32 weights.
        Assert.True(int8Bytes < 0.27 * dense, $"{int8Bytes} bytes vs float32 {dense}");
        // Quantised, so not equal; 8 bits (255 levels per row) are an order of magnitude closer than NF4's 16 levels.
        Assert.InRange(int8, 1e-5f, 0.1f);
        Assert.True(int8 < nf4 / 5, $"int8 drift {int8} vs nf4 {nf4}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Int8_matmul_equals_dequantise_then_linear_with_its_gradient(bool withBias)
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        using var weight = Int8RowwiseTensor.Quantize(randn(48, 64));
        var bias = withBias ? randn(48) : null;
        var x = randn(2, 5, 64).requires_grad_(true);
        var upstream = randn(2, 5, 48);
        var expected = nn.functional.linear(x, weight.Dequantize(ScalarType.Float32), bias);
        expected.backward([upstream]);
        var expectedGrad = x.grad!.clone();
        x.grad!.zero_();

        var actual = QuantizedLinear.Apply(x, weight, bias);
        actual.backward([upstream]);
        Assert.Equal(0f, (actual - expected).abs().max().item<float>());
        Assert.True(x.grad!.allclose(expectedGrad, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void Lora_over_int8_runs_and_merges_into_the_weights_it_trained_against()
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama", "golden.safetensors"));
        var ids = golden.Read("input_ids");
        using var model = ModelLoader.Load(TestPaths.Hf("llama"));
        LoraModel.QuantizeBase(model, new BaseQuantization(BaseQuantization.Int8));
        PeftAdapter.Load(TestPaths.Hf("llama", "adapter-lora"), model, "default");
        LoraModel.SetActiveAdapters(model, "default");
        model.eval();
        using var _ = no_grad();
        var withAdapter = model.Forward(ids);
        var drift = (withAdapter - golden.Read("lora_logits")).abs().max().item<float>();
        Assert.InRange(drift, 1e-6f, 0.1f);
        LoraModel.Merge(model, "default");
        Assert.DoesNotContain(model.LinearLayers(), l => l.Layer.IsQuantized);
        AdapterParityTests.AssertClose(withAdapter, model.Forward(ids), 1e-4, "LoRA merged into dequant(int8(W))");
    }
}
