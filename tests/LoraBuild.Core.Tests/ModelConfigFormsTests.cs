using System.Text.Json.Nodes;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// The transformers 4.51 config.json and its 5.x form (config.v5.json) describe the same model; a multimodal Gemma 3
/// config and checkpoint yield the same text model.
/// </summary>
public class ModelConfigFormsTests
{
    public ModelConfigFormsTests() => TestPaths.EnsureTorch();

    public static TheoryData<string> TwoFormFamilies() { var d = new TheoryData<string>(); foreach (var f in TestPaths.TwoFormFamilies) d.Add(f); return d; }

    [Theory]
    [MemberData(nameof(TwoFormFamilies))]
    public void Both_config_forms_describe_the_same_architecture(string family)
    {
        var v4 = ModelConfig.Load(TestPaths.Hf(family));
        var v5 = ModelConfig.Load(TestPaths.ModelFolder(family + TestPaths.V5Suffix));
        Assert.Equal(v4.LayerTypes, v5.LayerTypes);
        Assert.Equal(v4.Rope, v5.Rope);
        Assert.Equal(v4.LocalRope, v5.LocalRope);
        Assert.Equal(v4.SlidingWindow, v5.SlidingWindow);
        Assert.Equal(v4.TieWordEmbeddings, v5.TieWordEmbeddings);
        Assert.Equal(v4.AttnLogitSoftcapping, v5.AttnLogitSoftcapping);
        Assert.Equal(v4.FinalLogitSoftcapping, v5.FinalLogitSoftcapping);
        Assert.Equal(v4.QueryPreAttnScalar, v5.QueryPreAttnScalar);
        Assert.Equal(v4.HiddenAct, v5.HiddenAct);
    }

    [Fact]
    public void Gemma3_fixture_config_reads_as_hf_builds_it()
    {
        var c = ModelConfig.Load(TestPaths.Hf("gemma3-rope-linear"));
        Assert.Equal([AttentionKind.Sliding, AttentionKind.Sliding, AttentionKind.Full, AttentionKind.Sliding], c.LayerTypes);
        Assert.Equal(new RopeParameters("linear", 1e6, 8.0), c.Rope);
        Assert.Equal(new RopeParameters("default", 10000.0), c.LocalRope);
        Assert.Same(c.Rope, c.LayerRope(2));
        Assert.Same(c.LocalRope, c.LayerRope(0));
        Assert.Equal(4, c.LayerSlidingWindow(3));
        Assert.Null(c.LayerSlidingWindow(2));
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal("gelu_pytorch_tanh", c.HiddenAct);
        Assert.Equal(1 / Math.Sqrt(24), c.AttentionScale, 12);
        Assert.Null(c.AttnLogitSoftcapping);

        var gemma2 = ModelConfig.Load(TestPaths.Hf("gemma2"));
        Assert.Equal([AttentionKind.Sliding, AttentionKind.Full, AttentionKind.Sliding], gemma2.LayerTypes);
        Assert.Equal(5.0, gemma2.AttnLogitSoftcapping);
        Assert.Equal(3.0, gemma2.FinalLogitSoftcapping);
        Assert.Null(gemma2.LocalRope);
    }

    [Fact]
    public void Layer_types_of_the_wrong_length_are_an_error()
    {
        var folder = CopyFixture("gemma3");
        EditConfig(folder, c => c["layer_types"] = new JsonArray("sliding_attention", "full_attention"));
        var e = Assert.Throws<LoraBuildException>(() => ModelConfig.Load(folder));
        Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
        Assert.Contains("layer_types", e.Message);
    }

    /// <summary>
    /// Gemma3ForConditionalGeneration's folder: config "gemma3" with text_config, keys under language_model.model.
    /// (transformers 4.x) and a vision tower; the text model loads from it and computes HF's logits.
    /// </summary>
    [Fact]
    public void Multimodal_gemma3_folder_loads_its_language_model()
    {
        using var scope = NewDisposeScope();
        var folder = CopyFixture("gemma3");
        var text = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        var outer = new JsonObject { ["model_type"] = "gemma3", ["architectures"] = new JsonArray("Gemma3ForConditionalGeneration"), ["text_config"] = text.DeepClone() };
        File.WriteAllText(Path.Combine(folder, "config.json"), outer.ToJsonString());
        using (var original = SafeTensorsFile.Open(TestPaths.Hf("gemma3", "model.safetensors")))
        {
            var tensors = original.Tensors.Keys.Select(k => KeyValuePair.Create(k.Replace("model.", "language_model.model."), original.Read(k))).ToList();
            tensors.Add(KeyValuePair.Create("vision_tower.vision_model.embeddings.patch_embedding.weight", ones(4, 3)));
            tensors.Add(KeyValuePair.Create("multi_modal_projector.mm_input_projection_weight", ones(3, 4)));
            SafeTensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        }
        using var model = ModelLoader.Load(folder);
        Assert.Equal("gemma3_text", model.Config.ModelType);
        model.eval();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("gemma3", "golden.safetensors"));
        using var _ = no_grad();
        var expected = golden.Read("logits");
        AdapterParityTests.AssertClose(expected, model.Forward(golden.Read("input_ids")),
            TestPaths.LogitTolerance("gemma3", expected.abs().max().item<float>()), "multimodal gemma3 logits");
    }

    static string CopyFixture(string family)
    {
        var folder = TestPaths.TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.Hf(family))) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    static void EditConfig(string folder, Action<JsonNode> edit)
    {
        var path = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }
}
