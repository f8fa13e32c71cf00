using System.Text.Json;
using System.Text.Json.Serialization;
using LoraBuild.Diagnostics;
using LoraBuild.Quantization;

namespace LoraBuild.Adapters;

/// <summary>
/// <c>lorabuild.json</c> beside a PEFT adapter (PEFT ignores it): how the base was held during training (none, NF4 or int8),
/// and the base model's hash, so evaluation, generation and merge use the weights the adapter was trained against and a
/// consumer can refuse a different base.
/// </summary>
public sealed record AdapterManifest(
    [property: JsonPropertyName("quantization")] string Quantization,
    [property: JsonPropertyName("double_quant")] bool DoubleQuant,
    [property: JsonPropertyName("base_model_sha256")] string BaseModelSha256,
    [property: JsonPropertyName("fingerprint")] string Fingerprint,
    [property: JsonPropertyName("worker_version")] string WorkerVersion)
{
    public const string FileName = RunLayout.ManifestFile;

    /// <summary>The base's Hub id when it came from the Hub (a consumer resolves it through the HF cache); null for a local folder.</summary>
    [JsonPropertyName("base_model_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BaseModelId { get; init; }

    /// <summary>The Hub commit of that base (lora.lock.json's).</summary>
    [JsonPropertyName("base_model_commit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BaseModelCommit { get; init; }

    /// <summary>
    /// The precision training computed in, when not float32: "fp16" (a float16 base with dynamic loss scaling, HF's fp16
    /// mixed precision), "float16" (float16 without loss scaling) or "bf16". The adapter's weights are float32 either way.
    /// </summary>
    [JsonPropertyName("mixed_precision"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MixedPrecision { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }) + "\n";

    /// <summary>The manifest, or null when the folder has none; a manifest that is there but broken is an error (LB0133).</summary>
    public static AdapterManifest? TryLoad(string adapterDirectory)
    {
        var path = Path.Combine(adapterDirectory, FileName);
        return File.Exists(path) ? Load(path) : null;
    }

    public static AdapterManifest Load(string path)
    {
        LoraBuildException Invalid(string what) => new(ErrorCodes.AdapterManifestInvalid, $"{FileName} {what}", path);
        AdapterManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<AdapterManifest>(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw Invalid($"is not a valid manifest: {e.Message}");
        }
        catch (InvalidOperationException)
        {
            throw Invalid("holds a string that is not valid Unicode.");
        }
        if (manifest is null) throw Invalid("is null; it must be an object with quantization and base_model_sha256.");
        var missing = new[] { ("quantization", manifest.Quantization), ("base_model_sha256", manifest.BaseModelSha256) }
            .Where(f => string.IsNullOrEmpty(f.Item2)).Select(f => f.Item1).ToList();
        if (missing.Count > 0) throw Invalid($"lacks {string.Join(" and ", missing)}.");
        if (!BaseQuantization.Names.Contains(manifest.Quantization))
            throw Invalid($"has quantization '{manifest.Quantization}' (expected {string.Join(", ", BaseQuantization.Names)}).");
        return manifest;
    }
}
