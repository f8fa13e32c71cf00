using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>Our forward pass against HF transformers' logits and loss (golden.safetensors, fp32, eager attention).</summary>
public class ModelParityTests
{
    public ModelParityTests() => TestPaths.EnsureTorch();

    public static TheoryData<string> Families => TestPaths.FamilyData();

    [Theory]
    [MemberData(nameof(Families))]
    public void Logits_and_loss_match_transformers(string family)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        using var model = ModelLoader.Load(TestPaths.ModelFolder(family));
        model.eval();
        var ids = golden.Read("input_ids");
        using var _ = no_grad();
        var logits = model.Forward(ids);
        var expected = golden.Read("logits");
        Assert.Equal(expected.shape, logits.shape);
        var maxAbs = (logits - expected).abs().max().item<float>();
        var tolerance = TestPaths.LogitTolerance(family, expected.abs().max().item<float>());
        Assert.True(maxAbs < tolerance, $"{family}: max |logits - golden| = {maxAbs} (tolerance {tolerance})");

        var loss = CausalLM.CausalLmLoss(logits, ids).item<float>();
        var expectedLoss = golden.Read("loss").item<float>();
        Assert.True(Math.Abs(loss - expectedLoss) < 1e-5, $"{family}: loss {loss} vs golden {expectedLoss}");
    }
}
