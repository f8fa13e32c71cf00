using LoraBuild.Diagnostics;
using TorchSharp.Modules;

namespace LoraBuild.Adapters;

/// <summary>
/// PEFT's ModulesToSaveWrapper for one module (embed_tokens or lm_head): per adapter, a trainable full float32 copy of
/// the module's weight that replaces the frozen one while that adapter is active. At most one adapter's copy is in use
/// at a time, as in PEFT (two active adapters that both replace the same module have no defined result).
/// </summary>
public sealed class WeightCopies : IDisposable
{
    readonly Dictionary<string, Parameter> copies = new(StringComparer.Ordinal);
    readonly string moduleName;

    public WeightCopies(string moduleName) => this.moduleName = moduleName;

    public IReadOnlyDictionary<string, Parameter> ByAdapter => copies;

    /// <summary>The copy of the active adapter, or null: the frozen weight is used.</summary>
    public Parameter? Active { get; private set; }

    public string? ActiveAdapter { get; private set; }

    public void Add(string adapter, Parameter copy)
    {
        Remove(adapter);
        copies[adapter] = copy;
    }

    public void Remove(string adapter)
    {
        if (!copies.Remove(adapter, out var previous)) return;
        if (ActiveAdapter == adapter) (Active, ActiveAdapter) = (null, null);
        previous.Dispose();
    }

    public void SetActive(IEnumerable<string> adapters)
    {
        var withCopy = adapters.Where(copies.ContainsKey).Distinct(StringComparer.Ordinal).ToList();
        if (withCopy.Count > 1)
            throw new LoraBuildException(ErrorCodes.AdapterUnsupported,
                $"Adapters {string.Join(" and ", withCopy.Select(a => $"'{a}'"))} each replace {moduleName} (modules_to_save); only one of them can be active at a time, as in PEFT.");
        ActiveAdapter = withCopy.FirstOrDefault();
        Active = ActiveAdapter is null ? null : copies[ActiveAdapter];
    }

    public void Dispose()
    {
        foreach (var copy in copies.Values) copy.Dispose();
        copies.Clear();
        (Active, ActiveAdapter) = (null, null);
    }
}
