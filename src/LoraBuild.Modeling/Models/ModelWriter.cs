using System.Text.Json;
using LoraBuild.IO;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// Writes an HF model folder: config and tokenizer files carried over from the source, weights as model.safetensors
/// or, past <c>maxShardBytes</c>, as transformers' save_pretrained shards them (model-00001-of-0000N.safetensors in
/// parameter order, a new shard when the next tensor would overflow, and model.safetensors.index.json).
/// </summary>
public static class ModelWriter
{
    static readonly string[] CarriedFiles =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt",
    ];

    /// <summary>transformers' default max_shard_size (5 GB, decimal).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    public static void Save(CausalLM model, string sourceDirectory, string outputDirectory, long maxShardBytes = DefaultMaxShardBytes)
    {
        AtomicFile.WriteDirectory(outputDirectory, temp =>
        {
            foreach (var name in CarriedFiles)
            {
                var source = Path.Combine(sourceDirectory, name);
                if (File.Exists(source)) File.Copy(source, Path.Combine(temp, name));
            }
            var tensors = model.CheckpointParameters().Select(p => KeyValuePair.Create(p.Key, (Tensor)p.Parameter)).ToList();
            var metadata = new Dictionary<string, string> { ["format"] = "pt" };
            var shards = Shard(tensors, maxShardBytes);
            if (shards.Count == 1)
            {
                SafeTensorsWriter.Write(Path.Combine(temp, CheckpointReader.SingleFile), tensors, metadata);
                return;
            }
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < shards.Count; i++)
            {
                var file = $"model-{i + 1:00000}-of-{shards.Count:00000}.safetensors";
                SafeTensorsWriter.Write(Path.Combine(temp, file), shards[i], metadata);
                foreach (var (key, _) in shards[i]) weightMap[key] = file;
            }
            var index = new
            {
                metadata = new { total_size = tensors.Sum(t => Bytes(t.Value)) },
                weight_map = weightMap,
            };
            File.WriteAllText(Path.Combine(temp, CheckpointReader.IndexFile),
                JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        });
    }

    static long Bytes(Tensor t) => t.numel() * t.ElementSize;

    static List<List<KeyValuePair<string, Tensor>>> Shard(List<KeyValuePair<string, Tensor>> tensors, long maxShardBytes)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long size = 0;
        foreach (var tensor in tensors)
        {
            var bytes = Bytes(tensor.Value);
            if (size + bytes > maxShardBytes && shards[^1].Count > 0)
            {
                shards.Add(new());
                size = 0;
            }
            shards[^1].Add(tensor);
            size += bytes;
        }
        return shards;
    }
}
