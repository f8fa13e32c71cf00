using LoraBuild.Adapters;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>PEFT adapters on our model against PEFT's own logits, gradients and merged models.</summary>
public class AdapterParityTests
{
    public AdapterParityTests() => TestPaths.EnsureTorch();

    public static TheoryData<string, string> FamiliesAndKinds()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in TestPaths.Families)
        foreach (var kind in new[] { "lora", "dora" })
            data.Add(family, kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(FamiliesAndKinds))]
    public void Adapter_logits_match_peft(string family, string kind)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        using var model = ModelLoader.Load(TestPaths.ModelFolder(family));
        var config = PeftAdapter.Load(TestPaths.Hf(family, $"adapter-{kind}"), model, "default");
        Assert.Equal(kind == "dora", config.UseDora);
        LoraModel.SetActiveAdapters(model, "default");
        model.eval();
        using var _ = no_grad();
        var ids = golden.Read("input_ids");
        var logits = model.Forward(ids);
        AssertClose(golden.Read($"{kind}_logits"), logits, family, $"{family} {kind} logits");
        var loss = CausalLM.CausalLmLoss(logits, ids).item<float>();
        Assert.True(Math.Abs(loss - golden.Read($"{kind}_loss").item<float>()) < 1e-5, $"{family} {kind} loss {loss}");
    }

    [Theory]
    [MemberData(nameof(FamiliesAndKinds))]
    public void Adapter_gradients_match_peft(string family, string kind) => GradientsMatchPeft(family, kind, checkpointing: false);

    /// <summary>Gradient checkpointing recomputes each layer in backward; the gradients must not change.</summary>
    [Theory]
    [InlineData("llama", "lora")]
    [InlineData("phi3", "dora")]
    [InlineData("qwen2", "lora")]
    [InlineData("gemma2", "lora")]
    [InlineData("gemma3", "dora")]
    public void Adapter_gradients_match_peft_with_gradient_checkpointing(string family, string kind) => GradientsMatchPeft(family, kind, checkpointing: true);

    static void GradientsMatchPeft(string family, string kind, bool checkpointing)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        using var grads = SafeTensorsFile.Open(TestPaths.Hf(family, $"adapter-{kind}", "golden_grads.safetensors"));
        using var model = ModelLoader.Load(TestPaths.ModelFolder(family));
        PeftAdapter.Load(TestPaths.Hf(family, $"adapter-{kind}"), model, "default");
        LoraModel.SetActiveAdapters(model, "default");
        model.Model.GradientCheckpointing = checkpointing;
        model.train();
        var ids = golden.Read("input_ids");
        // Training's loss path (head and cross-entropy fused over chunks) against PEFT's mean loss.
        model.TrainingLoss(ids, ids, ids.shape[0] * (ids.shape[1] - 1)).backward();

        var parameters = LoraModel.AdapterParameters(model, "default");
        Assert.Equal(grads.Tensors.Count, parameters.Count);
        foreach (var (key, parameter) in parameters)
        {
            // PEFT's state dict names the magnitude "lora_magnitude_vector"; its parameter is "...lora_magnitude_vector.weight".
            var gradKey = key.EndsWith("lora_magnitude_vector") ? key + ".weight" : key;
            var expected = grads.Read(gradKey);
            var actual = parameter.grad!;
            var relative = ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-12)).item<float>();
            Assert.True(relative < 1e-4, $"{family} {kind} {key}: relative grad error {relative}");
        }
    }

    [Theory]
    [MemberData(nameof(FamiliesAndKinds))]
    public void Merged_model_matches_peft_merge_and_reloads(string family, string kind)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        var ids = golden.Read("input_ids");
        var expected = golden.Read($"{kind}_merged_logits");
        var output = TestPaths.TempDirectory();
        try
        {
            using (var model = ModelLoader.Load(TestPaths.ModelFolder(family)))
            {
                PeftAdapter.Load(TestPaths.Hf(family, $"adapter-{kind}"), model, "default");
                LoraModel.Merge(model, "default");
                Assert.Empty(LoraModel.AdapterNames(model));
                model.eval();
                using var _ = no_grad();
                AssertClose(expected, model.Forward(ids), family, $"{family} {kind} merged logits");
                ModelWriter.Save(model, TestPaths.ModelFolder(family), Path.Combine(output, "merged"));
            }
            using (var reloaded = ModelLoader.Load(Path.Combine(output, "merged")))
            {
                reloaded.eval();
                using var _ = no_grad();
                AssertClose(expected, reloaded.Forward(ids), family, $"{family} {kind} reloaded merged logits");
            }
            // PEFT's own merged folder loads to the same logits too.
            using (var peftMerged = ModelLoader.Load(TestPaths.ModelFolder(family, $"merged-{kind}")))
            {
                peftMerged.eval();
                using var _ = no_grad();
                AssertClose(expected, peftMerged.Forward(ids), family, $"{family} {kind} PEFT-merged folder logits");
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Theory]
    [InlineData("llama", "lora")]
    [InlineData("phi3", "dora")]
    public void Adapter_written_and_read_back_is_bit_identical(string family, string kind)
    {
        var output = TestPaths.TempDirectory();
        try
        {
            using var model = ModelLoader.Load(TestPaths.ModelFolder(family));
            var config = PeftAdapter.Load(TestPaths.Hf(family, $"adapter-{kind}"), model, "a");
            PeftAdapter.Save(Path.Combine(output, "first"), model, "a", config);
            PeftAdapter.Load(Path.Combine(output, "first"), model, "b");
            PeftAdapter.Save(Path.Combine(output, "second"), model, "b", config);

            foreach (var file in new[] { PeftAdapter.WeightsFile, LoraConfig.FileName })
                Assert.Equal(File.ReadAllBytes(Path.Combine(output, "first", file)), File.ReadAllBytes(Path.Combine(output, "second", file)));

            // And the tensors equal PEFT's file exactly.
            using var original = SafeTensorsFile.Open(TestPaths.Hf(family, $"adapter-{kind}", PeftAdapter.WeightsFile));
            using var written = SafeTensorsFile.Open(Path.Combine(output, "first", PeftAdapter.WeightsFile));
            Assert.Equal(original.Tensors.Keys.Order(), written.Tensors.Keys.Order());
            foreach (var key in original.Tensors.Keys)
            {
                using var a = original.Read(key);
                using var b = written.Read(key);
                Assert.True(a.bytes.SequenceEqual(b.bytes), key);
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    static void AssertClose(Tensor expected, Tensor actual, string family, string what) =>
        AssertClose(expected, actual, TestPaths.LogitTolerance(family, expected.abs().max().item<float>()), what);

    internal static void AssertClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var maxAbs = (actual.to_type(ScalarType.Float32) - expected).abs().max().item<float>();
        Assert.True(maxAbs < tolerance, $"{what}: max |diff| = {maxAbs}");
    }
}
