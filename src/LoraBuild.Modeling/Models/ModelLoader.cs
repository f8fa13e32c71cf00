using LoraBuild.Diagnostics;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// Builds a <see cref="CausalLM"/> from an HF model folder, checking every checkpoint key against the architecture.
/// Tensors are copied one at a time from the memory-mapped files into the model's (native) parameters; nothing passes
/// through managed memory.
/// </summary>
public static class ModelLoader
{
    /// <summary>
    /// With <paramref name="quantize"/>, each linear weight but the output head is stored quantised (NF4 for QLoRA, int8
    /// for an 8-bit base) as soon as it is read, so a model never holds all its dense weights at once: peak memory is
    /// the quantised model plus one dense weight.
    /// </summary>
    public static CausalLM Load(string directory, ScalarType? dtype = null, Device? device = null, QuantizedLoading? quantize = null)
    {
        var config = ModelConfig.Load(directory);
        var target = device ?? CPU;
        using var checkpoint = CheckpointReader.Open(directory);
        ModelConfigValidation.CheckAgainstCheckpoint(config, checkpoint);
        var computeType = dtype ?? ScalarType.Float32;
        var model = new CausalLM(config, computeType, target);
        try
        {
            LoadWeights(model, checkpoint, quantize);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static void LoadWeights(CausalLM model, CheckpointReader checkpoint, QuantizedLoading? quantize = null)
    {
        var quantizeAfterLoad = quantize is null
            ? new Dictionary<string, Adapters.LoraLinear>()
            : model.LinearLayers().Where(l => l.Name != CausalLM.OutputHeadName).ToDictionary(l => l.Name + ".weight", l => l.Layer);
        var expected = model.CheckpointParameters();
        var expectedKeys = expected.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        // Our key -> the checkpoint's name for it (they differ only in a multimodal Gemma 3 checkpoint).
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in checkpoint.TensorNames)
            if (OwnKey(name, model.Config) is { } own) names[own] = name;
        // HF may also save rotary inv_freq buffers or a redundant tied head; those are derived, not loaded.
        var unexpected = names
            .Where(n => !expectedKeys.Contains(n.Key) && !n.Key.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) &&
                        !(model.Config.TieWordEmbeddings && n.Key == CausalLM.OutputHeadName + ".weight"))
            .Select(n => n.Value).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new LoraBuildException(ErrorCodes.TensorUnexpected,
                $"Checkpoint has {unexpected.Count} tensor(s) this {model.Config.ModelType} architecture does not use, first '{unexpected[0]}'. " +
                "Is config.json from a different model?", checkpoint.Directory);

        foreach (var (key, parameter) in expected)
        {
            if (!names.TryGetValue(key, out var name))
                throw new LoraBuildException(ErrorCodes.TensorMissing, $"Checkpoint has no tensor '{key}', which config.json implies.", checkpoint.Directory);
            var info = checkpoint.Info(name);
            if (!info.Shape.SequenceEqual(parameter.shape))
                throw new LoraBuildException(ErrorCodes.TensorShapeMismatch,
                    $"Tensor '{key}' has shape [{string.Join(", ", info.Shape)}] but config.json implies [{string.Join(", ", parameter.shape)}].",
                    checkpoint.Directory);
            if (!info.DType.IsFloatingPoint())
                throw new LoraBuildException(ErrorCodes.SafeTensorsDTypeMismatch,
                    $"Tensor '{key}' is stored as {info.DType}; model weights are floating point (F32, F16, BF16, F64). Refusing to cast integers into weights.",
                    checkpoint.Directory);
            if (quantizeAfterLoad.TryGetValue(key, out var layer))
            {
                // The weight as the dense parameter would hold it (its dtype and device), quantised from there.
                using var value = checkpoint.Read(name, parameter.dtype);
                using var placed = value.to(parameter.device);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                layer.QuantizeFrom(placed, quantize!.Scheme);
                quantize.QuantizationTime += clock.Elapsed;
                // Quantising leaves the dense temporaries' pages on the C heap, between long-lived quantised blocks: give them
                // back after every weight, or they add up to the dense model (3.8 GiB on Gemma-3-1B).
                value.Dispose();
                placed.Dispose();
                NativeHeap.ReleaseFreePages();
                continue;
            }
            using (var value = checkpoint.Read(name))
            using (no_grad()) parameter.copy_(value);
        }
    }

    /// <summary>
    /// The parameter name a checkpoint tensor fills. A multimodal Gemma 3 checkpoint nests the language model
    /// (<c>language_model.model.*</c> in transformers 4.x, <c>model.language_model.*</c> in 5.x); its vision tower and
    /// projector are not part of the text model (null: skipped).
    /// </summary>
    static string? OwnKey(string name, ModelConfig config)
    {
        if (!config.FromMultimodalConfig) return name;
        foreach (var (prefix, replacement) in MultimodalPrefixes)
            if (name.StartsWith(prefix, StringComparison.Ordinal)) return replacement + name[prefix.Length..];
        return name.Contains("vision_tower.", StringComparison.Ordinal) || name.Contains("multi_modal_projector.", StringComparison.Ordinal) ? null : name;
    }

    static readonly (string Prefix, string Replacement)[] MultimodalPrefixes =
    [
        ("language_model.model.", "model."), ("language_model.lm_head.", "lm_head."), ("model.language_model.", "model."),
    ];
}

/// <summary>Quantise linear weights while loading; the time spent quantising is added to <see cref="QuantizationTime"/>.</summary>
public sealed class QuantizedLoading(Quantization.BaseQuantization scheme)
{
    public Quantization.BaseQuantization Scheme { get; } = scheme;
    public TimeSpan QuantizationTime { get; set; }
}
