using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Export.Gguf;

/// <summary>Where an export's HF-named tensors come from: their names and shapes up front, their values one at a time.</summary>
public interface IGgufTensorSource
{
    IReadOnlyList<string> Names { get; }
    long[] Shape(string name);
    float[] Read(string name);
}

static class TensorValues
{
    /// <summary>A tensor's values as float32 on the CPU, in row-major order.</summary>
    public static float[] ToFloats(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        return tensor.detach().to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }
}

/// <summary>A checkpoint on disk (safetensors, possibly sharded): each tensor is read from the mapping when the writer asks for it.</summary>
public sealed class CheckpointTensorSource(CheckpointReader reader) : IGgufTensorSource
{
    public IReadOnlyList<string> Names { get; } = reader.Files.SelectMany(f => f.Tensors.Values.OrderBy(t => t.Begin).Select(t => t.Name)).ToList();

    public long[] Shape(string name) => reader.Info(name).Shape;

    public float[] Read(string name)
    {
        using var tensor = reader.Read(name, ScalarType.Float32);
        return TensorValues.ToFloats(tensor);
    }
}

/// <summary>A model in memory (the base with an adapter merged in): its checkpoint parameters by HF name.</summary>
public sealed class ModelTensorSource(CausalLM model) : IGgufTensorSource
{
    readonly Dictionary<string, Tensor> parameters = model.CheckpointParameters().ToDictionary(p => p.Key, p => (Tensor)p.Parameter);

    public IReadOnlyList<string> Names => parameters.Keys.ToList();

    public long[] Shape(string name) => parameters[name].shape;

    public float[] Read(string name) => TensorValues.ToFloats(parameters[name]);
}
