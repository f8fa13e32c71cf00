using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.Native;
using LoraBuild.Runtime.Engine;
using LoraBuild.Templating;
using LoraBuild.Tokenization;
using static TorchSharp.torch;

namespace LoraBuild.Runtime;

/// <summary>How the host runs: device (auto picks CUDA when present), and whether a base-model mismatch is tolerated.</summary>
/// <param name="AcceptAdapterWithoutProvenance">Load an adapter that has no lorabuild.json (so nothing says which base it fits).</param>
/// <param name="VerifyBaseByContent">Hash every base weight file in full while loading (no size+mtime cache): a base
/// overwritten in place is caught. Costs one read of the weights, overlapped with loading them.</param>
/// <param name="DownloadBaseModel">When the base is found by Hub id (Load without a folder) and the HF cache lacks it:
/// download it (HF_ENDPOINT, HF_TOKEN). Off by default: an app does not reach the network unless it says so.</param>
public sealed record HostOptions(string Device = "auto", bool IgnoreBaseModelMismatch = false,
    bool AcceptAdapterWithoutProvenance = false, bool VerifyBaseByContent = false, bool DownloadBaseModel = false);

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
    readonly Lazy<GenerationEngine> engine;
    readonly Lazy<ChatPrompt> chatPrompt;

    AdapterHost(CausalLM model, HfTokenizer tokenizer, IReadOnlySet<int> stopIds, string baseModelSha256, string baseModelDirectory, EngineOptions? engineOptions)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.stopIds = stopIds;
        BaseModelSha256 = baseModelSha256;
        BaseModelDirectory = baseModelDirectory;
        engine = new(() => new GenerationEngine(model, stopIds, adapters, engineOptions, gate));
        chatPrompt = new(() => new ChatPrompt(ChatTemplateSource.Load(baseModelDirectory)));
    }

    public string BaseModelSha256 { get; }
    public string BaseModelDirectory { get; }
    public IReadOnlyCollection<string> Adapters => adapters;
    public HfTokenizer Tokenizer => tokenizer;
    /// <summary>The continuous-batching engine every concurrent request goes through (started on first use).</summary>
    public GenerationEngine Engine => engine.Value;
    /// <summary>The model's chat template (tokenizer_config.json or chat_template.jinja).</summary>
    public ChatPrompt ChatPrompt => chatPrompt.Value;

    /// <summary>
    /// Loads the base the adapters were built on, found by the Hub id and commit their lorabuild.json records, in the HF
    /// cache (HF_HUB_CACHE / HF_HOME, shared with Python and JS tools); downloaded there only with
    /// <see cref="HostOptions.DownloadBaseModel"/>. A local base (built from a folder) is passed by folder instead.
    /// </summary>
    public static AdapterHost Load(IEnumerable<AdapterSource> sources, HostOptions? options = null)
    {
        var list = sources.ToList();
        return Load(HubBaseModel.Locate(list, options ?? new HostOptions()), list, options);
    }

    public static AdapterHost Load(string baseModelDirectory, IEnumerable<AdapterSource> sources, HostOptions? options = null, EngineOptions? engineOptions = null)
    {
        options ??= new HostOptions();
        var (device, dtype) = DeviceSelection.Resolve(options.Device, null, "LB0302", $"Device \"{options.Device}\"");
        var list = sources.ToList();
        if (!Directory.Exists(baseModelDirectory))
            throw new LoraBuildException(ErrorCodes.ConfigMissing, "Base model folder does not exist.", baseModelDirectory);
        foreach (var source in list)
            if (!Directory.Exists(source.Directory))
                throw new LoraBuildException(ErrorCodes.AdapterConfigMissing, $"Adapter '{source.Name}': folder does not exist.", source.Directory);
        var manifests = list.Select(s => (Source: s, Manifest: RequireProvenance(s, options))).ToList();
        string baseSha;
        CausalLM model;
        if (options.VerifyBaseByContent)
        {
            // Hash the weight files in full (no cache) on another thread while they load: the check costs one overlapped read.
            var hashing = Task.Run(() => ModelHash.Sha256(baseModelDirectory, trustCache: false));
            try
            {
                model = AdapterLoader.Load(baseModelDirectory, list, dtype, device);
            }
            catch (LoraBuildException)
            {
                // A base rewritten in place can also fail to load (garbage weights); the mismatch is the error that explains it.
                var rewritten = hashing.GetAwaiter().GetResult();
                foreach (var (source, manifest) in manifests) CheckBase(source, manifest, rewritten, options);
                throw;
            }
            try
            {
                baseSha = hashing.GetAwaiter().GetResult();
                foreach (var (source, manifest) in manifests) CheckBase(source, manifest, baseSha, options);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        else
        {
            baseSha = ModelHash.Sha256(baseModelDirectory);
            foreach (var (source, manifest) in manifests) CheckBase(source, manifest, baseSha, options);
            model = AdapterLoader.Load(baseModelDirectory, list, dtype, device);
        }
        try
        {
            var tokenizer = HfTokenizer.Load(baseModelDirectory);
            var host = new AdapterHost(model, tokenizer, StopTokens.Resolve(tokenizer, baseModelDirectory), baseSha, baseModelDirectory, engineOptions);
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

    /// <summary>An adapter without lorabuild.json says nothing about its base: refused unless the caller accepts that.</summary>
    static AdapterManifest? RequireProvenance(AdapterSource source, HostOptions options)
    {
        var manifest = AdapterManifest.TryLoad(source.Directory);
        if (manifest is null && !options.AcceptAdapterWithoutProvenance)
            throw new LoraBuildException(ErrorCodes.AdapterWithoutProvenance,
                $"Adapter '{source.Name}' has no {AdapterManifest.FileName}, so nothing says which base model it was trained on. " +
                "Rebuild it with LoraBuild, or set AcceptAdapterWithoutProvenance to load it anyway.", Path.Combine(source.Directory, AdapterManifest.FileName));
        return manifest;
    }

    static void CheckBase(AdapterSource source, AdapterManifest? manifest, string baseSha, HostOptions options)
    {
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
    /// <remarks>One request at a time: concurrent callers wait for each other. Concurrent requests go through
    /// <see cref="Engine"/> (or the chat client), which batches them.</remarks>
    public string Generate(string adapter, string prompt, GenerationOptions? options = null) =>
        tokenizer.Decode(GenerateIds(adapter, EncodeRaw(prompt), options));

    /// <summary>Token ids continuing <paramref name="promptIds"/>, one request at a time (no batching).</summary>
    public IReadOnlyList<int> GenerateIds(string adapter, IReadOnlyList<int> promptIds, GenerationOptions? options = null)
    {
        if (adapter != BaseOnly && !adapters.Contains(adapter))
            throw new LoraBuildException("LB0301", $"No adapter named '{adapter}' is loaded; loaded: {string.Join(", ", adapters.DefaultIfEmpty("none"))}.");
        lock (gate)
        {
            if (adapter == BaseOnly) LoraModel.SetActiveAdapters(model);
            else LoraModel.SetActiveAdapters(model, adapter);
            return TextGenerator.Generate(model, promptIds, stopIds, options ?? new GenerationOptions());
        }
    }

    /// <summary>Streams a completion through the engine (batched with every other request), as text deltas.</summary>
    /// <param name="promptIds">The prompt's ids, encoded as its kind requires: raw text with the tokenizer's special
    /// tokens (<see cref="EncodeRaw"/>), a rendered chat template without (<see cref="EncodeChat"/>).</param>
    public IAsyncEnumerable<CompletionUpdate> StreamCompletionAsync(string adapter, IReadOnlyList<int> promptIds, SamplingSettings settings,
        IReadOnlyList<string>? stopSequences = null, CancellationToken cancellationToken = default) =>
        TextCompletion.StreamAsync(Engine, tokenizer, adapter, promptIds, settings, stopSequences ?? [], cancellationToken);

    /// <summary>Raw prompt text as transformers' <c>tokenizer(prompt)</c> feeds it and training put it before a
    /// completion: the tokenizer's leading special tokens, then the text (<see cref="HfTokenizer.EncodePrompt"/>).</summary>
    public IReadOnlyList<int> EncodeRaw(string prompt) => tokenizer.EncodePrompt(prompt);

    /// <summary>A rendered chat template already holds its special tokens as text: encoded with none added.</summary>
    public IReadOnlyList<int> EncodeChat(string renderedPrompt) => tokenizer.Encode(renderedPrompt, addSpecialTokens: false);

    public void Dispose()
    {
        if (engine.IsValueCreated) engine.Value.Dispose();
        model.Dispose();
    }
}
