using LoraBuild.SafeTensors;
using LoraBuild.Training;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>A finished run's adapter tensors as float32 values, for bit-for-bit comparisons between runs.</summary>
public static class TrainedAdapterFiles
{
    public static Dictionary<string, float[]> Values(TrainingResult result)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(result.OutputDirectory, Trainer.AdapterFolder, "adapter_model.safetensors"));
        return file.Tensors.Keys.ToDictionary(k => k, k => { using var t = file.Read(k); return t.to_type(ScalarType.Float32).data<float>().ToArray(); });
    }
}
