using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Export.Gguf.Families;
using LoraBuild.Models;
using LoraBuild.SafeTensors;

namespace LoraBuild.Export.Gguf;

/// <summary>
/// A PEFT LoRA adapter as a llama.cpp LoRA GGUF (<c>general.type=adapter</c>, <c>adapter.type=lora</c>): per target
/// <c>blk.N.&lt;tensor&gt;.weight.lora_a</c> [r, in] and <c>.lora_b</c> [out, r], with the output-side transforms of the
/// base export applied to B so that B·A transforms as the base weight does.
/// </summary>
public static class GgufAdapterExporter
{
    public static void Export(string modelDirectory, string adapterDirectory, string outputPath, GgufOutType outType,
        Action<int, int, string>? progress = null)
    {
        Native.TorchRuntime.EnsureLoaded();
        var config = ModelConfig.Load(modelDirectory);
        var lora = LoraConfig.Load(adapterDirectory);
        var configPath = Path.Combine(adapterDirectory, LoraConfig.FileName);
        if (lora.UseDora)
            throw new LoraBuildException(ErrorCodes.GgufDoraAdapter,
                "a DoRA adapter has no GGUF adapter form (llama.cpp applies W + s·B·A only, not DoRA's magnitude); export it merged: add --merge.", configPath);
        var map = new GgufTensorMap(GgufFamily.For(config.Family), config);
        var weightsPath = Path.Combine(adapterDirectory, PeftAdapter.WeightsFile);
        using var file = SafeTensorsFile.Open(weightsPath);

        // llama.cpp scales every pair by alpha / rank with one alpha; a module whose PEFT scale differs (rank_pattern,
        // alpha_pattern, rsLoRA) has the ratio folded into its B.
        var alpha = lora.LoraAlpha;
        var tensors = new List<GgufTensor>();
        var problems = new List<string>();
        if (lora.ModulesToSave is { } whole)
            problems.Add($"modules_to_save ({string.Join(", ", whole)}): modules trained whole have no place in a GGUF LoRA (export it merged: add --merge)");
        foreach (var key in file.Tensors.Keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal)).OrderBy(k => file.Tensors[k].Begin))
        {
            var module = key[..^".lora_A.weight".Length];
            if (module.StartsWith(LoraModel.KeyPrefix, StringComparison.Ordinal)) module = module[LoraModel.KeyPrefix.Length..];
            var bKey = key[..^".lora_A.weight".Length] + ".lora_B.weight";
            if (!file.Tensors.ContainsKey(bKey)) { problems.Add($"'{key}' has no '{bKey}'"); continue; }
            if (map.GgufModule(module) is not { } gguf || gguf == "token_embd") { problems.Add($"module '{module}' has no llama.cpp LoRA target"); continue; }
            var aShape = file.Tensors[key].Shape;
            var bShape = file.Tensors[bKey].Shape;
            var rank = (int)aShape[0];
            var (_, moduleAlpha) = lora.RankAndAlpha(module);
            var fold = lora.Scaling(rank, moduleAlpha) / (alpha / rank);
            var a = new MappedTensor(module, gguf, TensorPart.LoraA);
            var b = new MappedTensor(module, gguf, TensorPart.LoraB);
            tensors.Add(new GgufTensor(a.GgufName, aShape, outType.TensorType(aShape), () => Read(file, key)));
            tensors.Add(new GgufTensor(b.GgufName, bShape, outType.TensorType(bShape), () =>
            {
                var values = map.Transform(b, Read(file, bKey), bShape);
                if (fold != 1.0) for (var i = 0; i < values.Length; i++) values[i] = (float)(values[i] * fold);
                return values;
            }));
        }
        var unknown = file.Tensors.Keys.Where(k => !k.EndsWith(".lora_A.weight", StringComparison.Ordinal) && !k.EndsWith(".lora_B.weight", StringComparison.Ordinal)).ToList();
        if (unknown.Count > 0) problems.Add($"tensors llama.cpp's LoRA format cannot hold: {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}");
        if (tensors.Count == 0 && problems.Count == 0) problems.Add("no lora_A/lora_B pairs");
        if (problems.Count > 0)
            throw new LoraBuildException(ErrorCodes.GgufAdapterUnsupported, "adapter cannot be exported as a GGUF LoRA: " + string.Join("; ", problems) + ".", weightsPath);

        var metadata = new GgufMetadata()
            .String("general.architecture", map.Family.Architecture)
            .String("general.type", "adapter")
            .String("general.name", Path.GetFileName(Path.GetFullPath(adapterDirectory).TrimEnd(Path.DirectorySeparatorChar)))
            .UInt32("general.file_type", outType.FileType())
            .UInt32("general.quantization_version", 2)
            .String("adapter.type", "lora")
            .Float32("adapter.lora.alpha", alpha);
        GgufWriter.Write(outputPath, metadata, tensors, progress);
    }

    static float[] Read(SafeTensorsFile file, string key)
    {
        using var tensor = file.Read(key, TorchSharp.torch.ScalarType.Float32);
        return TensorValues.ToFloats(tensor);
    }
}
