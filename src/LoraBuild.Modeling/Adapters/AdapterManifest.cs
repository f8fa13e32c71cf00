using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraBuild.Adapters;

/// <summary>
/// <c>lorabuild.json</c> beside a PEFT adapter (PEFT ignores it): how the base was held during training (NF4 or not),
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
    public const string FileName = "lorabuild.json";

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }) + "\n";

    public static AdapterManifest? TryLoad(string adapterDirectory)
    {
        var path = Path.Combine(adapterDirectory, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize<AdapterManifest>(File.ReadAllText(path)) : null;
    }
}
