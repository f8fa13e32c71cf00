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
    /// <param name="name">general.name; default: the model folder's name. llama.cpp keys some tokenizer fixes on it (a
    /// name containing "phi3" expects Phi-3's special tokens).</param>
    public static void Export(string modelDirectory, string? adapterDirectory, string outputPath, GgufOutType outType,
        Action<int, int, string>? progress = null, string? name = null)
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
            Write(new CheckpointTensorSource(reader), map, config, modelDirectory, configPath, outputPath, outType, progress, name);
            return;
        }
        using var merged = AdapterLoader.Load(modelDirectory, [new AdapterSource("default", adapterDirectory)]);
        LoraModel.Merge(merged, "default");
        Write(new ModelTensorSource(merged), map, config, modelDirectory, configPath, outputPath, outType, progress, name);
    }

    /// <summary>
    /// A vocabulary-only GGUF (llama.cpp's <c>vocab_only</c> load, like its models/ggml-vocab-*.gguf): the hyperparameters
    /// and the tokenizer, no tensors.
    /// </summary>
    public static void ExportVocabulary(string modelDirectory, string outputPath)
    {
        var config = ModelConfig.Load(modelDirectory);
        var family = GgufFamily.For(config.Family);
        var metadata = Header(family, modelDirectory, GgufOutType.F32);
        GgufHyperparameters.Write(metadata, family, config, Path.Combine(modelDirectory, "config.json"));
        GgufTokenizerMetadata.Write(metadata, modelDirectory, config.VocabSize);
        GgufWriter.Write(outputPath, metadata, []);
    }

    static GgufMetadata Header(GgufFamily family, string modelDirectory, GgufOutType outType, string? name = null) => new GgufMetadata()
        .String("general.architecture", family.Architecture)
        .String("general.type", "model")
        .String("general.name", name ?? Path.GetFileName(Path.GetFullPath(modelDirectory).TrimEnd(Path.DirectorySeparatorChar)))
        .UInt32("general.file_type", outType.FileType())
        .UInt32("general.quantization_version", 2);

    static void Write(IGgufTensorSource source, GgufTensorMap map, ModelConfig config, string modelDirectory, string configPath,
        string outputPath, GgufOutType outType, Action<int, int, string>? progress, string? name)
    {
        var metadata = Header(map.Family, modelDirectory, outType, name);
        GgufHyperparameters.Write(metadata, map.Family, config, configPath);
        GgufTokenizerMetadata.Write(metadata, modelDirectory, config.VocabSize);

        var tensors = new List<GgufTensor>();
        var unmapped = new List<string>();
        foreach (var tensorName in source.Names)
        {
            // Rotary tables some older checkpoints carry are recomputed by llama.cpp; a tied head is token_embd itself.
            if (tensorName.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
            if (config.TieWordEmbeddings && tensorName == "lm_head.weight") continue;
            if (map.Map(tensorName) is not { } mapped)
            {
                unmapped.Add(tensorName);
                continue;
            }
            var shape = source.Shape(tensorName);
            tensors.Add(new GgufTensor(mapped.GgufName, shape, outType.TensorType(shape), () => map.Transform(mapped, source.Read(tensorName), shape)));
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
