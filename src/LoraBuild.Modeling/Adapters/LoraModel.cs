using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>
/// PEFT's LoraModel operations on a <see cref="CausalLM"/>: choose target layers, add adapters (initialised or loaded),
/// switch the active set, enumerate trainable parameters under their PEFT keys, merge.
/// </summary>
public static class LoraModel
{
    /// <summary>PEFT's state-dict prefix for a causal LM: base_model (the LoraModel) . model (the HF model).</summary>
    public const string KeyPrefix = "base_model.model.";

    public static IReadOnlyList<(string Name, LoraLinear Layer)> SelectTargets(CausalLM model, LoraConfig config)
    {
        var targets = model.LinearLayers().Where(l => config.Targets(l.Name, l.Name == CausalLM.OutputHeadName)).ToList();
        if (targets.Count == 0)
        {
            var available = string.Join(", ", model.LinearLayers().Select(l => l.Name.Split('.')[^1]).Distinct());
            throw new LoraBuildException(ErrorCodes.AdapterTargetNotFound,
                $"No linear layer of this {model.Config.ModelType} model matches target_modules; its linear layers are: {available}.");
        }
        if (model.Config.TieWordEmbeddings && targets.Any(t => t.Name == CausalLM.OutputHeadName))
            throw new LoraBuildException(ErrorCodes.AdapterUnsupported, "lm_head shares its weight with embed_tokens (tied embeddings) and cannot be a LoRA target.");
        return targets;
    }

    /// <summary>Adds a freshly initialised adapter: A kaiming-uniform (or gaussian 1/r), B zeros, DoRA magnitude = ||W||_row.</summary>
    public static void AddAdapter(CausalLM model, string name, LoraConfig config)
    {
        // A bad modules_to_save entry fails before any layer is touched.
        ModulesToSave.Resolve(model, config);
        using var _ = no_grad();
        foreach (var (moduleName, layer) in SelectTargets(model, config))
        {
            var (rank, alpha) = config.RankAndAlpha(moduleName);
            var a = empty(rank, layer.InFeatures, ScalarType.Float32, model.Device);
            var b = zeros(layer.OutFeatures, rank, ScalarType.Float32, model.Device);
            switch (config.InitLoraWeights)
            {
                case LoraInit.Gaussian:
                    nn.init.normal_(a, 0, 1.0 / rank);
                    break;
                case LoraInit.None:
                    // PEFT's init_lora_weights=False: B is random too, so the adapter is not an identity (tests only).
                    nn.init.kaiming_uniform_(a, Math.Sqrt(5));
                    nn.init.kaiming_uniform_(b, Math.Sqrt(5));
                    break;
                default:
                    nn.init.kaiming_uniform_(a, Math.Sqrt(5));
                    break;
            }
            var scaling = config.Scaling(rank, alpha);
            Tensor? magnitude = config.UseDora
                ? LoraLinear.DoraWeightNorm(layer.BaseWeight(ScalarType.Float32), a, b, scaling)
                : null;
            layer.AddAdapter(name, Create(a, b, magnitude, scaling, config.LoraDropout, rank, alpha));
        }
        ModulesToSave.AddCopies(model, name, config);
    }

    internal static LoraAdapterWeights Create(Tensor a, Tensor b, Tensor? magnitude, double scaling, double dropout, int rank, double alpha) =>
        new(new Parameter(a, requires_grad: true), new Parameter(b, requires_grad: true),
            magnitude is null ? null : new Parameter(magnitude, requires_grad: true), scaling, dropout, rank, alpha);

    /// <summary>Activates exactly the named adapters (none: the plain base model), on every layer that has them.</summary>
    public static void SetActiveAdapters(CausalLM model, params string[] names)
    {
        foreach (var (_, layer) in model.LinearLayers()) layer.SetActiveAdapters(names);
        model.Model.EmbedTokensCopies.SetActive(names);
    }

    /// <summary>Per-row adapters on every layer for the coming forward passes; null returns to the active set.</summary>
    public static void SetRowRouting(CausalLM model, RowAdapterRouting? routing)
    {
        foreach (var (_, layer) in model.LinearLayers()) layer.SetRowRouting(routing);
    }

    public static IEnumerable<string> AdapterNames(CausalLM model) =>
        model.LinearLayers().SelectMany(l => l.Layer.Adapters.Keys)
            .Concat(model.LmHead.Copies.ByAdapter.Keys).Concat(model.Model.EmbedTokensCopies.ByAdapter.Keys).Distinct();

    /// <summary>The adapter's tensors under the keys PEFT saves (lora_A.weight, lora_B.weight, lora_magnitude_vector),
    /// then its modules trained whole (modules_to_save: base_model.model.lm_head.weight ...).</summary>
    public static IReadOnlyList<(string Key, Parameter Parameter)> AdapterParameters(CausalLM model, string name)
    {
        var result = new List<(string, Parameter)>();
        foreach (var (moduleName, layer) in model.LinearLayers())
        {
            if (!layer.Adapters.TryGetValue(name, out var adapter)) continue;
            var prefix = KeyPrefix + moduleName + ".";
            result.Add((prefix + "lora_A.weight", adapter.LoraA));
            result.Add((prefix + "lora_B.weight", adapter.LoraB));
            if (adapter.Magnitude is not null) result.Add((prefix + "lora_magnitude_vector", adapter.Magnitude));
        }
        result.AddRange(ModulesToSave.Parameters(model, name));
        return result;
    }

    /// <summary>QLoRA: every linear layer but the output head stored as NF4 (the head stays dense, as bitsandbytes setups keep it).</summary>
    public static void QuantizeBaseNf4(CausalLM model, bool doubleQuantization) =>
        QuantizeBase(model, new BaseQuantization(BaseQuantization.Nf4, doubleQuantization));

    /// <summary>Every linear layer but the output head stored quantised (bitsandbytes keeps the head dense for both 4 and 8 bits).</summary>
    public static void QuantizeBase(CausalLM model, BaseQuantization scheme)
    {
        foreach (var (name, layer) in model.LinearLayers())
            if (name != CausalLM.OutputHeadName) layer.Quantize(scheme);
        // The freed dense weights and temporaries sit in heap holes between the long-lived quantised blocks: hand them back.
        NativeHeap.ReleaseFreePages();
    }

    /// <summary>Folds the adapter into the base weights (W' = W + s·B·A, or DoRA's rescaled form; a module trained whole
    /// takes its trained weight) and removes it. A merged model is dense: a quantised base is dequantized, adapted layers or not.</summary>
    public static void Merge(CausalLM model, string name)
    {
        // Tied embeddings: the copies (PEFT without ensure_weight_tying) give embed_tokens and lm_head different
        // weights, which a model whose config ties them cannot hold.
        if (model.Config.TieWordEmbeddings && ModulesToSave.Has(model, name))
            throw new LoraBuildException(ErrorCodes.AdapterUnsupported,
                $"Adapter '{name}' trains {string.Join(" and ", ModulesToSave.Parameters(model, name).Select(p => p.Key[KeyPrefix.Length..^".weight".Length]))} whole on a model with tied embeddings " +
                "(tie_word_embeddings): merged, embed_tokens and lm_head would differ, which this model's config cannot express. Use the adapter unmerged.");
        using var _ = no_grad();
        var embedCopies = model.Model.EmbedTokensCopies;
        if (embedCopies.ByAdapter.TryGetValue(name, out var embedCopy))
        {
            model.Model.EmbedTokensWeight.copy_(embedCopy);
            embedCopies.Remove(name);
        }
        if (model.LmHead.Copies.ByAdapter.TryGetValue(name, out var headCopy))
        {
            // The copy is the whole merged head (the head is never a LoRA target of an adapter that saves it).
            model.LmHead.Dequantize();
            model.LmHead.Weight.copy_(headCopy);
            model.LmHead.Copies.Remove(name);
        }
        foreach (var (_, layer) in model.LinearLayers())
        {
            if (!layer.Adapters.ContainsKey(name)) { layer.Dequantize(); continue; }
            using var merged = layer.MergedWeight(name);
            layer.Dequantize();
            layer.Weight.copy_(merged);
            layer.RemoveAdapter(name);
        }
    }
}
