using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Export.Gguf.Families;
using LoraBuild.Models;
using LoraBuild.SafeTensors;

namespace LoraBuild.Export.Gguf;

/// <summary>
/// An HF model folder (optionally with a PEFT adapter merged in) as a GGUF model file llama.cpp loads: its tensors under
/// llama.cpp's names with the family's transforms, the hyperparameters, and the tokenizer.
/// </summary>
public static class GgufModelExporter
{
    /// <param name="adapterDirectory">When set, the adapter (LoRA or DoRA) is merged into the weights first.</param>
    public static void Export(string modelDirectory, string? adapterDirectory, string outputPath, GgufOutType outType,
        Action<int, int, string>? progress = null)
    {
        Native.TorchRuntime.EnsureLoaded();
        var config = ModelConfig.Load(modelDirectory);
        var configPath = Path.Combine(modelDirectory, "config.json");
        if (config.FromMultimodalConfig)
            throw new LoraBuildException(ErrorCodes.GgufModelUnsupported,
                "a multimodal Gemma 3 checkpoint (model_type 'gemma3') is exported by llama.cpp as a text model plus an mmproj file; export its text model only is not supported here.", configPath);
        var map = new GgufTensorMap(GgufFamily.For(config.Family), config);

        if (adapterDirectory is null)
        {
            using var reader = CheckpointReader.Open(modelDirectory);
            Write(new CheckpointTensorSource(reader), map, config, modelDirectory, configPath, outputPath, outType, progress);
            return;
        }
        using var merged = AdapterLoader.Load(modelDirectory, [new AdapterSource("default", adapterDirectory)]);
        LoraModel.Merge(merged, "default");
        Write(new ModelTensorSource(merged), map, config, modelDirectory, configPath, outputPath, outType, progress);
    }

    static void Write(IGgufTensorSource source, GgufTensorMap map, ModelConfig config, string modelDirectory, string configPath,
        string outputPath, GgufOutType outType, Action<int, int, string>? progress)
    {
        var metadata = new GgufMetadata()
            .String("general.architecture", map.Family.Architecture)
            .String("general.type", "model")
            .String("general.name", Path.GetFileName(Path.GetFullPath(modelDirectory).TrimEnd(Path.DirectorySeparatorChar)))
            .UInt32("general.file_type", outType.FileType())
            .UInt32("general.quantization_version", 2);
        GgufHyperparameters.Write(metadata, map.Family, config, configPath);
        GgufTokenizerMetadata.Write(metadata, modelDirectory, config.VocabSize);

        var tensors = new List<GgufTensor>();
        var unmapped = new List<string>();
        foreach (var name in source.Names)
        {
            // Rotary tables some older checkpoints carry are recomputed by llama.cpp; a tied head is token_embd itself.
            if (name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
            if (config.TieWordEmbeddings && name == "lm_head.weight") continue;
            if (map.Map(name) is not { } mapped)
            {
                unmapped.Add(name);
                continue;
            }
            var shape = source.Shape(name);
            tensors.Add(new GgufTensor(mapped.GgufName, shape, outType.TensorType(shape), () => map.Transform(mapped, source.Read(name), shape)));
        }
        if (unmapped.Count > 0)
            throw new LoraBuildException(ErrorCodes.GgufTensorUnmapped,
                $"{unmapped.Count} tensor(s) have no llama.cpp name for '{map.Family.Architecture}': {string.Join(", ", unmapped.Take(10))}{(unmapped.Count > 10 ? ", ..." : "")}.", modelDirectory);
        if (config.Rope.Type == "llama3")
        {
            var factors = GgufHyperparameters.RopeFrequencyFactors(config);
            tensors.Add(new GgufTensor("rope_freqs.weight", [factors.Length], GgmlType.F32, () => factors));
        }
        GgufWriter.Write(outputPath, metadata, tensors, progress);
    }
}
