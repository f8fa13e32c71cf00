using LoraBuild.Diagnostics;
using LoraBuild.IO;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>Reads and writes PEFT adapter folders: adapter_config.json + adapter_model.safetensors.</summary>
public static class PeftAdapter
{
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>
    /// Loads an adapter folder onto <paramref name="model"/> under <paramref name="name"/>. Every tensor must belong to a
    /// target layer and have that layer's shape; every target must have its tensors. A module in modules_to_save
    /// (embed_tokens, lm_head) gets the saved weight as this adapter's copy of it.
    /// </summary>
    public static LoraConfig Load(string directory, CausalLM model, string name)
    {
        var config = LoraConfig.Load(directory);
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weightsPath))
        {
            var pickle = Path.Combine(directory, "adapter_model.bin");
            if (File.Exists(pickle))
                throw new LoraBuildException(ErrorCodes.PickleRefused, "adapter_model.bin is a pickle file, which runs arbitrary code when loaded; save the adapter with safe_serialization=True.", pickle);
            throw new LoraBuildException(ErrorCodes.AdapterTensorMissing, $"{WeightsFile} is missing.", directory);
        }
        using var file = SafeTensorsFile.Open(weightsPath);
        var targets = LoraModel.SelectTargets(model, config);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        var loaded = new List<(LoraLinear Layer, LoraAdapterWeights Weights)>();
        var copies = new List<(string Module, Tensor Weight)>();
        void DisposeLoaded()
        {
            foreach (var (_, w) in loaded) w.Dispose();
            foreach (var (_, w) in copies) w.Dispose();
        }
        try
        {
            foreach (var module in ModulesToSave.Resolve(model, config, Path.Combine(directory, LoraConfig.FileName)))
            {
                var read = ReadChecked(file, ModulesToSave.Key(module), ModulesToSave.Shape(model, module), claimed, weightsPath);
                copies.Add((module, read.to(model.Device)));
            }
            foreach (var (moduleName, layer) in targets)
            {
                var prefix = LoraModel.KeyPrefix + moduleName + ".";
                var (rank, alpha) = config.RankAndAlpha(moduleName);
                var a = ReadChecked(file, prefix + "lora_A.weight", [rank, layer.InFeatures], claimed, weightsPath);
                var b = ReadChecked(file, prefix + "lora_B.weight", [layer.OutFeatures, rank], claimed, weightsPath);
                var magnitude = config.UseDora ? ReadChecked(file, prefix + "lora_magnitude_vector", [layer.OutFeatures], claimed, weightsPath) : null;
                loaded.Add((layer, LoraModel.Create(a.to(model.Device), b.to(model.Device), magnitude?.to(model.Device),
                    config.Scaling(rank, alpha), config.LoraDropout, rank, alpha)));
            }
        }
        catch
        {
            DisposeLoaded();
            throw;
        }

        var stray = file.Tensors.Keys.Where(k => !claimed.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (stray.Count > 0)
        {
            DisposeLoaded();
            throw new LoraBuildException(ErrorCodes.AdapterTargetNotFound,
                $"Adapter tensor '{stray[0]}' (and {stray.Count - 1} more) matches no target layer of this model: the adapter was made for a different model.", weightsPath);
        }
        foreach (var (layer, weights) in loaded) layer.AddAdapter(name, weights);
        foreach (var (module, weight) in copies) ModulesToSave.CopiesOf(model, module).Add(name, new Parameter(weight, requires_grad: true));
        return config;
    }

    static Tensor ReadChecked(SafeTensorsFile file, string key, long[] shape, HashSet<string> claimed, string path)
    {
        if (!file.Tensors.TryGetValue(key, out var info))
            throw new LoraBuildException(ErrorCodes.AdapterTensorMissing, $"Adapter has no tensor '{key}'.", path);
        if (!info.Shape.SequenceEqual(shape))
            throw new LoraBuildException(ErrorCodes.AdapterShapeMismatch,
                $"Adapter tensor '{key}' has shape [{string.Join(", ", info.Shape)}] but this model needs [{string.Join(", ", shape)}]: the adapter was trained on a base model of another shape.", path);
        claimed.Add(key);
        return file.Read(key, ScalarType.Float32);
    }

    /// <summary>Writes the adapter folder atomically (a reader never sees a half-written adapter).</summary>
    public static void Save(string directory, CausalLM model, string name, LoraConfig config, IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        var parameters = LoraModel.AdapterParameters(model, name);
        if (parameters.Count == 0) throw new LoraBuildException(ErrorCodes.AdapterUnsupported, $"The model has no adapter named '{name}'.");
        var targets = LoraModel.SelectTargets(model, config).Select(t => t.Name);
        AtomicFile.WriteDirectory(directory, temp =>
        {
            SafeTensorsWriter.Write(Path.Combine(temp, WeightsFile),
                parameters.Select(p => KeyValuePair.Create(p.Key, (Tensor)p.Parameter)),
                new Dictionary<string, string> { ["format"] = "pt" });
            File.WriteAllText(Path.Combine(temp, LoraConfig.FileName), config.ToJson(targets));
            if (extraFiles is not null)
                foreach (var (file, content) in extraFiles) File.WriteAllText(Path.Combine(temp, file), content);
        });
    }
}
