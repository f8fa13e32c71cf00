using LoraBuild.Diagnostics;
using LoraBuild.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Adapters;

/// <summary>
/// PEFT's modules_to_save for a causal LM: each named module is trained (and saved) whole beside the LoRA factors, as a
/// full copy that replaces it while the adapter is active. Here the modules can be the token embeddings
/// (<c>model.embed_tokens</c>) and the output head (<c>lm_head</c>): neither is ever quantised, and their copies are
/// float32. A name matches a module as PEFT's _set_trainable does: the module's full name ends with it.
/// </summary>
public static class ModulesToSave
{
    public const string EmbedTokens = "model.embed_tokens";
    public const string OutputHead = CausalLM.OutputHeadName;
    static readonly string[] Supported = [EmbedTokens, OutputHead];

    /// <summary>The modules <paramref name="config"/> names (in model order), or a coded error for a name that matches
    /// nothing or a module other than the two supported.</summary>
    public static IReadOnlyList<string> Resolve(CausalLM model, LoraConfig config, string? source = null)
    {
        if (config.ModulesToSave is not { Count: > 0 } names) return [];
        var modules = model.named_modules().Select(m => m.name).Where(n => n.Length > 0).ToList();
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var matches = modules.Where(m => m.EndsWith(name, StringComparison.Ordinal)).ToList();
            if (matches.Count == 0)
                throw new LoraBuildException(ErrorCodes.AdapterTargetNotFound,
                    $"modules_to_save entry '{name}' matches no module of this {model.Config.ModelType} model; the modules that can be trained whole are embed_tokens and lm_head.", source);
            var others = matches.Where(m => !Supported.Contains(m)).ToList();
            if (others.Count > 0)
                throw new LoraBuildException(ErrorCodes.AdapterUnsupported,
                    $"modules_to_save entry '{name}' matches {others[0]}{(others.Count > 1 ? $" (and {others.Count - 1} more)" : "")}: only embed_tokens and lm_head can be trained whole here.", source);
            chosen.UnionWith(matches);
        }
        return Supported.Where(chosen.Contains).ToList();
    }

    /// <summary>PEFT's key for a saved module's weight: base_model.model.&lt;module&gt;.weight (adapter name removed).</summary>
    public static string Key(string module) => LoraModel.KeyPrefix + module + ".weight";

    public static WeightCopies CopiesOf(CausalLM model, string module) =>
        module == EmbedTokens ? model.Model.EmbedTokensCopies : model.LmHead.Copies;

    /// <summary>The frozen weight a copy starts from: the embedding table, or the head's (dequantised if it ever were).</summary>
    public static Tensor BaseWeight(CausalLM model, string module) =>
        module == EmbedTokens ? model.Model.EmbedTokensWeight.to_type(ScalarType.Float32) : model.LmHead.BaseWeight(ScalarType.Float32);

    /// <summary>[rows, columns] of the module's weight.</summary>
    public static long[] Shape(CausalLM model, string module) =>
        module == EmbedTokens ? model.Model.EmbedTokensWeight.shape : [model.LmHead.OutFeatures, model.LmHead.InFeatures];

    /// <summary>Fresh copies (PEFT deep-copies the module): the base weights in float32, trainable.</summary>
    public static void AddCopies(CausalLM model, string adapter, LoraConfig config)
    {
        using var _ = no_grad();
        foreach (var module in Resolve(model, config))
        {
            using var source = BaseWeight(model, module);
            CopiesOf(model, module).Add(adapter, new Parameter(source.clone(), requires_grad: true));
        }
    }

    /// <summary>The adapter's copies under PEFT's keys, in model order.</summary>
    public static IReadOnlyList<(string Key, Parameter Parameter)> Parameters(CausalLM model, string adapter) =>
        Supported.Select(m => (Module: m, Copies: CopiesOf(model, m)))
            .Where(m => m.Copies.ByAdapter.ContainsKey(adapter))
            .Select(m => (Key(m.Module), m.Copies.ByAdapter[adapter]))
            .ToList();

    /// <summary>Whether the adapter replaces any module whole.</summary>
    public static bool Has(CausalLM model, string adapter) =>
        Supported.Any(m => CopiesOf(model, m).ByAdapter.ContainsKey(adapter));
}
