using LoraBuild.Models;

namespace LoraBuild.Adapters;

/// <summary>Loads a base model in the form an adapter was trained against (NF4 when its manifest says so) and the adapter.</summary>
public static class AdapterLoader
{
    /// <summary>Quantizes the base when the (first) adapter was trained over NF4, unless <paramref name="originalBase"/>.</summary>
    public static void PrepareBase(CausalLM model, IEnumerable<string> adapterDirectories, bool originalBase = false)
    {
        if (originalBase) return;
        var nf4 = adapterDirectories.Select(AdapterManifest.TryLoad).FirstOrDefault(m => m?.Quantization == "nf4");
        if (nf4 is not null) LoraModel.QuantizeBaseNf4(model, nf4.DoubleQuant);
    }
}
