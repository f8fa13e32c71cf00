using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.Native;
using LoraBuild.Tokenization;
using static TorchSharp.torch;

namespace LoraBuild.Runtime;

/// <summary>How the host runs: device (auto picks CUDA when present), and whether a base-model mismatch is tolerated.</summary>
public sealed record HostOptions(string Device = "auto", bool IgnoreBaseModelMismatch = false);

/// <summary>
/// One base model in memory with any number of adapters over it. Each request names its adapter (or "base"), and the
/// host switches the active adapter without reloading anything. An adapter records the sha256 of the base it was trained
/// on; a different base is refused (LB0300) unless <see cref="HostOptions.IgnoreBaseModelMismatch"/>.
/// </summary>
public sealed class AdapterHost : IDisposable
{
    public const string BaseOnly = "base";

    readonly CausalLM model;
    readonly HfTokenizer tokenizer;
    readonly IReadOnlySet<int> stopIds;
    readonly HashSet<string> adapters = new(StringComparer.Ordinal);
    readonly object gate = new();

    AdapterHost(CausalLM model, HfTokenizer tokenizer, IReadOnlySet<int> stopIds, string baseModelSha256)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.stopIds = stopIds;
        BaseModelSha256 = baseModelSha256;
    }

    public string BaseModelSha256 { get; }
    public IReadOnlyCollection<string> Adapters => adapters;

    public static AdapterHost Load(string baseModelDirectory, IEnumerable<AdapterSource> sources, HostOptions? options = null)
    {
        options ??= new HostOptions();
        var (device, dtype) = DeviceSelection.Resolve(options.Device, null, "LB0302", $"Device \"{options.Device}\"");
        var list = sources.ToList();
        var baseSha = ModelHash.Sha256(baseModelDirectory);
        foreach (var source in list) CheckBase(source, baseSha, options);
        var model = AdapterLoader.Load(baseModelDirectory, list, dtype, device);
        try
        {
            var tokenizer = HfTokenizer.Load(baseModelDirectory);
            var host = new AdapterHost(model, tokenizer, StopTokens.Resolve(tokenizer, baseModelDirectory), baseSha);
            foreach (var source in list) host.adapters.Add(source.Name);
            model.eval();
            return host;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    static void CheckBase(AdapterSource source, string baseSha, HostOptions options)
    {
        var manifest = AdapterManifest.TryLoad(source.Directory);
        if (manifest is null || manifest.BaseModelSha256 == baseSha || options.IgnoreBaseModelMismatch) return;
        throw new LoraBuildException("LB0300",
            $"Adapter '{source.Name}' was trained on a base model with sha256 {manifest.BaseModelSha256}, but the loaded base has {baseSha}. " +
            "Load the base it was built for, or set IgnoreBaseModelMismatch to use it anyway.", Path.Combine(source.Directory, AdapterManifest.FileName));
    }

    /// <summary>Adapters a consuming app received through PackageReference: <c>lora/&lt;name&gt;/</c> folders beside it.</summary>
    public static IReadOnlyList<AdapterSource> DiscoverAdapters(string? applicationDirectory = null)
    {
        var root = Path.Combine(applicationDirectory ?? AppContext.BaseDirectory, "lora");
        return Directory.Exists(root)
            ? Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, LoraConfig.FileName)))
                .Order(StringComparer.Ordinal).Select(d => new AdapterSource(Path.GetFileName(d), d)).ToList()
            : [];
    }

    /// <summary>Generates a completion of <paramref name="prompt"/> with the named adapter (or <see cref="BaseOnly"/>).</summary>
    public string Generate(string adapter, string prompt, GenerationOptions? options = null)
    {
        if (adapter != BaseOnly && !adapters.Contains(adapter))
            throw new LoraBuildException("LB0301", $"No adapter named '{adapter}' is loaded; loaded: {string.Join(", ", adapters.DefaultIfEmpty("none"))}.");
        lock (gate)
        {
            if (adapter == BaseOnly) LoraModel.SetActiveAdapters(model);
            else LoraModel.SetActiveAdapters(model, adapter);
            var ids = TextGenerator.Generate(model, tokenizer.Encode(prompt), stopIds, options ?? new GenerationOptions());
            return tokenizer.Decode(ids);
        }
    }

    public void Dispose() => model.Dispose();
}
