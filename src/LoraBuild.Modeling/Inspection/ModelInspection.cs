using LoraBuild.Adapters;
using LoraBuild.Models;
using LoraBuild.SafeTensors;

namespace LoraBuild.Inspection;

/// <summary>Facts about a base model, read from config.json and safetensors headers only (no weights loaded).</summary>
public sealed record ModelSummary(string Directory, ModelConfig Config, long ParameterCount, long BytesOnDisk, IReadOnlyDictionary<string, long> ParametersByDType);

/// <summary>Facts about a PEFT adapter: its config, trainable parameter count, share of the base and size on disk.</summary>
public sealed record AdapterSummary(string Directory, LoraConfig Config, long TrainableParameters, double ShareOfBasePercent, long BytesOnDisk, int AdaptedLayers);

public static class ModelInspection
{
    public static ModelSummary InspectModel(string directory)
    {
        var config = ModelConfig.Load(directory);
        using var checkpoint = CheckpointReader.Open(directory);
        ModelConfigValidation.CheckAgainstCheckpoint(config, checkpoint);
        var byType = new Dictionary<string, long>();
        long total = 0;
        foreach (var name in checkpoint.TensorNames)
        {
            var info = checkpoint.Info(name);
            total += info.ElementCount;
            byType[info.DType.ToString()] = byType.GetValueOrDefault(info.DType.ToString()) + info.ElementCount;
        }
        var bytes = checkpoint.Files.Sum(f => IO.LinkedFiles.Length(f.Path));
        return new ModelSummary(directory, config, total, bytes, byType);
    }

    public static AdapterSummary InspectAdapter(string directory, ModelSummary baseModel)
    {
        var config = LoraConfig.Load(directory);
        var weights = Path.Combine(directory, PeftAdapter.WeightsFile);
        using var file = SafeTensorsFile.Open(weights);
        var trainable = file.Tensors.Values.Sum(t => t.ElementCount);
        var layers = file.Tensors.Keys.Count(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal));
        var bytes = System.IO.Directory.EnumerateFiles(directory).Sum(f => IO.LinkedFiles.Length(f));
        return new AdapterSummary(directory, config, trainable, 100.0 * trainable / baseModel.ParameterCount, bytes, layers);
    }
}
