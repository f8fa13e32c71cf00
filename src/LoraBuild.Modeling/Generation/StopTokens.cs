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
            // Values that are no token id (validated elsewhere with a coded error) are skipped, never a crash here.
            if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var id)) ids.Add(id);
            else if (e.ValueKind == JsonValueKind.Array)
                foreach (var x in e.EnumerateArray())
                    if (x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var item)) ids.Add(item);
        }
        return ids;
    }
}
