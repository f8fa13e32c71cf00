using LoraBuild.Models;
using LoraBuild.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>An adapter to load: the name it is used by and its PEFT folder.</summary>
public sealed record AdapterSource(string Name, string Directory)
{
    /// <summary>"name=dir", or a bare folder named after its last path segment (the command-line forms).</summary>
    public static AdapterSource Parse(string value)
    {
        var equals = value.IndexOf('=');
        return equals > 0
            ? new AdapterSource(value[..equals], value[(equals + 1)..])
            : new AdapterSource(Path.GetFileName(Path.GetFullPath(value).TrimEnd('/', '\\')), value);
    }
}

/// <summary>
/// The one way every command and the runtime load a base model with adapters: the base in the form the adapters were
/// trained against (NF4 or int8 when the first adapter's lorabuild.json says so, unless <c>originalBase</c>), then each PEFT folder
/// under its name. No adapter is active afterwards (<see cref="LoraModel.SetActiveAdapters"/> picks).
/// </summary>
public static class AdapterLoader
{
    public static CausalLM Load(string baseModelDirectory, IReadOnlyList<AdapterSource> adapters, ScalarType? dtype = null, Device? device = null,
        bool originalBase = false)
    {
        var quantized = originalBase ? null
            : adapters.Select(a => AdapterManifest.TryLoad(a.Directory)).FirstOrDefault(m => m is not null && m.Quantization != BaseQuantization.None);
        // Quantised while reading, as training loads it: the dense base is never in memory whole.
        var scheme = quantized is null ? null : BaseQuantization.For(quantized.Quantization, quantized.DoubleQuant);
        var model = ModelLoader.Load(baseModelDirectory, dtype, device, scheme is null ? null : new QuantizedLoading(scheme));
        try
        {
            foreach (var adapter in adapters) PeftAdapter.Load(adapter.Directory, model, adapter.Name);
            LoraModel.SetActiveAdapters(model);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
