using System.Text.Json.Nodes;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>Broken model and adapter folders: each has its own error code and names what is wrong.</summary>
public class ModelFolderErrorTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public ModelFolderErrorTests() => TestPaths.EnsureTorch();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string CopyModel(string family)
    {
        var target = Path.Combine(dir, family);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(TestPaths.Hf(family))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    void EditConfig(string model, Action<JsonObject> edit)
    {
        var path = Path.Combine(model, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void Missing_config_json()
    {
        var model = CopyModel("llama");
        File.Delete(Path.Combine(model, "config.json"));
        var e = Assert.Throws<LoraBuildException>(() => ModelLoader.Load(model));
        Assert.Equal(ErrorCodes.ConfigMissing, e.Code);
        Assert.Equal(Path.Combine(model, "config.json"), e.File);
    }

    [Fact]
    public void Unknown_model_type_lists_the_supported_ones()
    {
        var model = CopyModel("llama");
        EditConfig(model, c => c["model_type"] = "gpt_neox");
        var e = Assert.Throws<LoraBuildException>(() => ModelLoader.Load(model));
        Assert.Equal(ErrorCodes.UnknownModelType, e.Code);
        Assert.Contains("gpt_neox", e.Message);
        foreach (var supported in ModelConfig.SupportedModelTypes) Assert.Contains(supported, e.Message);
    }

    [Fact]
    public void Tensor_shape_that_disagrees_with_config_is_named()
    {
        var model = CopyModel("llama");
        EditConfig(model, c => c["intermediate_size"] = 96);
        var e = Assert.Throws<LoraBuildException>(() => ModelLoader.Load(model));
        Assert.Equal(ErrorCodes.TensorShapeMismatch, e.Code);
        Assert.Contains("'model.layers.0.mlp.gate_proj.weight'", e.Message);
        Assert.Contains("[128, 64]", e.Message);
        Assert.Contains("[96, 64]", e.Message);
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        var model = CopyModel("llama");
        EditConfig(model, c => c["num_hidden_layers"] = 3);
        var e = Assert.Throws<LoraBuildException>(() => ModelLoader.Load(model));
        Assert.Equal(ErrorCodes.TensorMissing, e.Code);
        Assert.Contains("model.layers.2.", e.Message);
    }

    [Fact]
    public void Unsupported_rope_type_is_refused()
    {
        var model = CopyModel("phi3");
        EditConfig(model, c => c["rope_parameters"]!["rope_type"] = "longrope");
        Assert.Equal(ErrorCodes.UnsupportedRopeScaling, Assert.Throws<LoraBuildException>(() => ModelLoader.Load(model)).Code);
    }

    [Fact]
    public void Transformers_4_config_form_gives_the_same_logits()
    {
        // 4.x kept rope_theta and rope_scaling at top level; both forms must load to the same model.
        var model = CopyModel("llama3-rope-tied");
        EditConfig(model, c =>
        {
            var rope = c["rope_parameters"]!.AsObject();
            c.Remove("rope_parameters");
            c["rope_theta"] = rope["rope_theta"]!.GetValue<double>();
            rope.Remove("rope_theta");
            c["rope_scaling"] = rope;
        });
        using var scope = NewDisposeScope();
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("llama3-rope-tied", "golden.safetensors"));
        using var loaded = ModelLoader.Load(model);
        Assert.Equal("llama3", loaded.Config.Rope.Type);
        using var _ = no_grad();
        AdapterParityTests.AssertClose(golden.Read("logits"), loaded.Forward(golden.Read("input_ids")), 1e-4, "4.x config");
    }

    [Fact]
    public void Sharded_checkpoint_loads_to_the_same_logits()
    {
        var model = CopyModel("qwen2");
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> all;
        using (var single = SafeTensorsFile.Open(Path.Combine(model, "model.safetensors")))
            all = single.Tensors.Keys.ToDictionary(k => k, k => single.Read(k));
        File.Delete(Path.Combine(model, "model.safetensors"));
        var keys = all.Keys.Order(StringComparer.Ordinal).ToList();
        var shards = new[] { keys.Take(keys.Count / 2).ToList(), keys.Skip(keys.Count / 2).ToList() };
        var weightMap = new JsonObject();
        for (var i = 0; i < 2; i++)
        {
            var name = $"model-0000{i + 1}-of-00002.safetensors";
            SafeTensorsWriter.Write(Path.Combine(model, name), shards[i].Select(k => KeyValuePair.Create(k, all[k])));
            foreach (var k in shards[i]) weightMap[k] = name;
        }
        File.WriteAllText(Path.Combine(model, "model.safetensors.index.json"), new JsonObject { ["weight_map"] = weightMap }.ToJsonString());

        using var golden = SafeTensorsFile.Open(TestPaths.Hf("qwen2", "golden.safetensors"));
        using var loaded = ModelLoader.Load(model);
        using var _ = no_grad();
        AdapterParityTests.AssertClose(golden.Read("logits"), loaded.Forward(golden.Read("input_ids")), 1e-4, "sharded");
    }

    [Fact]
    public void BFloat16_checkpoint_loads_and_runs_in_float32()
    {
        var model = CopyModel("mistral");
        using var scope = NewDisposeScope();
        using (var single = SafeTensorsFile.Open(TestPaths.Hf("mistral", "model.safetensors")))
        {
            var converted = single.Tensors.Keys.ToDictionary(k => k, k => single.Read(k).to_type(ScalarType.BFloat16));
            SafeTensorsWriter.Write(Path.Combine(model, "model.safetensors"), converted);
        }
        using var golden = SafeTensorsFile.Open(TestPaths.Hf("mistral", "golden.safetensors"));
        using var loaded = ModelLoader.Load(model);
        Assert.Equal(ScalarType.Float32, loaded.LmHead.Weight.dtype);
        using var _ = no_grad();
        // bf16 weights lose precision: close, not equal.
        AdapterParityTests.AssertClose(golden.Read("logits"), loaded.Forward(golden.Read("input_ids")), 5e-2, "bf16 weights");
    }

    [Fact]
    public void Pickle_checkpoint_is_refused_with_the_reason()
    {
        var model = CopyModel("llama");
        File.Move(Path.Combine(model, "model.safetensors"), Path.Combine(model, "pytorch_model.bin"));
        var e = Assert.Throws<LoraBuildException>(() => ModelLoader.Load(model));
        Assert.Equal(ErrorCodes.PickleRefused, e.Code);
        Assert.Contains("arbitrary code", e.Message);
    }

    [Fact]
    public void Adapter_for_another_shape_is_refused()
    {
        // The llama adapter on a model whose MLP is narrower.
        var model = CopyModel("llama");
        using var scope = NewDisposeScope();
        using (var single = SafeTensorsFile.Open(TestPaths.Hf("llama", "model.safetensors")))
        {
            var narrowed = single.Tensors.Keys.ToDictionary(k => k, k =>
            {
                var t = single.Read(k);
                if (k.EndsWith("gate_proj.weight") || k.EndsWith("up_proj.weight")) return t.narrow(0, 0, 96).contiguous();
                if (k.EndsWith("down_proj.weight")) return t.narrow(1, 0, 96).contiguous();
                return t;
            });
            SafeTensorsWriter.Write(Path.Combine(model, "model.safetensors"), narrowed);
        }
        EditConfig(model, c => c["intermediate_size"] = 96);
        using var loaded = ModelLoader.Load(model);
        var e = Assert.Throws<LoraBuildException>(() => PeftAdapter.Load(TestPaths.Hf("llama", "adapter-lora"), loaded, "x"));
        Assert.Equal(ErrorCodes.AdapterShapeMismatch, e.Code);
        Assert.Contains("'base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight' has shape [128, 4]", e.Message);
        Assert.Contains("needs [96, 4]", e.Message);
        Assert.Empty(LoraModel.AdapterNames(loaded));
    }

    [Fact]
    public void Adapter_for_another_architecture_is_refused()
    {
        using var phi3 = ModelLoader.Load(TestPaths.Hf("phi3"));
        var e = Assert.Throws<LoraBuildException>(() => PeftAdapter.Load(TestPaths.Hf("llama", "adapter-lora"), phi3, "x"));
        Assert.Equal(ErrorCodes.AdapterTargetNotFound, e.Code);
    }

    [Fact]
    public void Adapter_folder_without_config_is_refused()
    {
        using var model = ModelLoader.Load(TestPaths.Hf("llama"));
        var e = Assert.Throws<LoraBuildException>(() => PeftAdapter.Load(dir, model, "x"));
        Assert.Equal(ErrorCodes.AdapterConfigMissing, e.Code);
    }
}
