using System.Text.Json;
using LoraBuild.Tokenization;

namespace LoraBuild.Generation;

/// <summary>The ids that end generation: the tokenizer's EOS and every <c>eos_token_id</c> of config.json and
/// generation_config.json (an int or a list), as transformers' generate stops on any of them.</summary>
public static class StopTokens
{
    public static IReadOnlySet<int> Resolve(HfTokenizer tokenizer, string modelDirectory)
    {
        var ids = new HashSet<int>();
        if (tokenizer.EosTokenId is { } eos) ids.Add(eos);
        foreach (var file in new[] { "config.json", "generation_config.json" })
        {
            var path = Path.Combine(modelDirectory, file);
            if (!File.Exists(path)) continue;
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (!doc.RootElement.TryGetProperty("eos_token_id", out var e)) continue;
            if (e.ValueKind == JsonValueKind.Number) ids.Add(e.GetInt32());
            else if (e.ValueKind == JsonValueKind.Array) foreach (var x in e.EnumerateArray()) ids.Add(x.GetInt32());
        }
        return ids;
    }
}
