using System.Text.Json;
using LoraBuild.Diagnostics;

namespace LoraBuild.Tokenization;

/// <summary>What LoraBuild reads from tokenizer_config.json (transformers' PreTrainedTokenizer arguments).</summary>
public sealed record TokenizerConfig
{
    public string? TokenizerClass { get; init; }
    /// <summary>Null when the file does not say; the tokenizer class's default then applies.</summary>
    public bool? AddBosToken { get; init; }
    public bool? AddEosToken { get; init; }
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? PadToken { get; init; }
    public string? UnkToken { get; init; }
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];
    /// <summary>transformers' default since 4.45 is False when the file does not say.</summary>
    public bool CleanUpTokenizationSpaces { get; init; }
    /// <summary>Null for "no limit" (HF writes 1e30 for that).</summary>
    public long? ModelMaxLength { get; init; }

    /// <summary>A special token as tokenizer_config.json writes it: a string, or an AddedToken object's "content".</summary>
    internal static string? TokenContent(JsonElement token) => token.ValueKind switch
    {
        JsonValueKind.String => token.GetString(),
        JsonValueKind.Object when token.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
        _ => null,
    };

    public static TokenizerConfig Read(string json, string file)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new LoraBuildException(ErrorCodes.TokenizerInvalid, $"tokenizer_config.json is not valid JSON: {e.Message}", file, (int)(e.LineNumber ?? 0) + 1); }
        using (document)
        {
            var root = document.RootElement;
            var problems = new List<string>();
            string? Token(string key)
            {
                if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                var content = TokenContent(v);
                if (content is null) problems.Add($"{key} must be a string or an AddedToken object with 'content'");
                return content;
            }
            bool? Flag(string key) => root.TryGetProperty(key, out var v) ? v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => null,
            } : null;
            long? maxLength = null;
            if (root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetDouble(out var d) && d < 1e18)
                maxLength = (long)d;
            var additional = new List<string>();
            if (root.TryGetProperty("additional_special_tokens", out var extra) && extra.ValueKind == JsonValueKind.Array)
                foreach (var item in extra.EnumerateArray())
                    if (TokenContent(item) is { } token) additional.Add(token);
            var config = new TokenizerConfig
            {
                TokenizerClass = root.TryGetProperty("tokenizer_class", out var cls) && cls.ValueKind == JsonValueKind.String ? cls.GetString() : null,
                AddBosToken = Flag("add_bos_token"),
                AddEosToken = Flag("add_eos_token"),
                BosToken = Token("bos_token"),
                EosToken = Token("eos_token"),
                PadToken = Token("pad_token"),
                UnkToken = Token("unk_token"),
                AdditionalSpecialTokens = additional,
                CleanUpTokenizationSpaces = Flag("clean_up_tokenization_spaces") ?? false,
                ModelMaxLength = maxLength,
            };
            if (problems.Count > 0) throw new LoraBuildException(ErrorCodes.TokenizerInvalid, "tokenizer_config.json: " + string.Join("; ", problems), file);
            return config;
        }
    }
}
