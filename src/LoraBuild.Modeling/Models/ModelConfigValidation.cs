using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.SafeTensors;

namespace LoraBuild.Models;

/// <summary>
/// Checks a <c>config.json</c> before anything is built from it: every known key has the right type and a sane value,
/// sizes are bounded (so a hostile or mistyped config cannot ask for terabytes before the weights are even opened), and
/// all problems of the file are reported in one error.
/// </summary>
public static class ModelConfigValidation
{
    /// <summary>Upper bounds far above any released model, low enough that nothing absurd reaches an allocation.</summary>
    public static readonly IReadOnlyDictionary<string, long> SizeLimits = new Dictionary<string, long>
    {
        ["vocab_size"] = 1L << 22,
        ["hidden_size"] = 1L << 17,
        ["intermediate_size"] = 1L << 19,
        ["num_hidden_layers"] = 1024,
        ["num_attention_heads"] = 1024,
        ["num_key_value_heads"] = 1024,
        ["head_dim"] = 4096,
        ["max_position_embeddings"] = 1L << 24,
        ["sliding_window"] = 1L << 24,
        ["original_max_position_embeddings"] = 1L << 24,
    };

    static readonly string[] RequiredSizes = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"];
    static readonly string[] PositiveNumbers = ["rms_norm_eps", "rope_theta"];
    static readonly string[] RopePositiveNumbers = ["rope_theta", "factor", "low_freq_factor", "high_freq_factor"];
    static readonly string[] Booleans = ["tie_word_embeddings", "attention_bias", "mlp_bias", "use_sliding_window"];
    static readonly string[] Strings = ["model_type", "hidden_act"];

    /// <summary>Throws one <see cref="ErrorCodes.ConfigInvalid"/> listing every problem; <paramref name="text"/> gives line numbers.</summary>
    public static void Validate(JsonElement root, string path, string? text = null)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new LoraBuildException(ErrorCodes.ConfigInvalid,
                $"config.json must be a JSON object, found {root.ValueKind.ToString().ToLowerInvariant()}.", path, 1);
        var problems = new List<(string Key, string Problem)>();
        // A multimodal Gemma 3 config describes its language model in text_config: that is what gets checked.
        if (root.TryGetProperty("text_config", out var textConfig) && textConfig.ValueKind == JsonValueKind.Object) root = textConfig;
        try
        {
            Check(root, problems);
        }
        catch (InvalidOperationException)
        {
            problems.Add(("", "a key or string is not valid Unicode (a lone surrogate escape such as \\ud800)"));
        }
        if (problems.Count == 0) return;
        var line = text is null ? 0 : LineOf(text, problems[0].Key);
        throw new LoraBuildException(ErrorCodes.ConfigInvalid,
            $"config.json has {problems.Count} problem(s): " + string.Join("; ", problems.Select(p => p.Problem)) + ".", path, line);
    }

    static void Check(JsonElement root, List<(string, string)> problems)
    {
        var sizes = new Dictionary<string, long>();
        foreach (var (key, limit) in SizeLimits)
        {
            if (key == "original_max_position_embeddings") continue;
            if (Integer(root, key, 1, limit, problems) is { } value) sizes[key] = value;
        }
        foreach (var key in RequiredSizes)
            if (!Present(root, key)) problems.Add((key, $"'{key}' is missing (a positive integer is needed)"));
        foreach (var key in PositiveNumbers) PositiveNumber(root, key, problems);
        foreach (var key in Booleans)
            if (Present(root, key, out var v) && v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                problems.Add((key, $"'{key}' must be true or false"));
        foreach (var key in Strings)
            if (Present(root, key, out var v) && v.ValueKind != JsonValueKind.String)
                problems.Add((key, $"'{key}' must be a string"));
        if (!Present(root, "model_type")) problems.Add(("model_type", "'model_type' is missing"));

        // Token ids: integers that fit the vocabulary's index type; pad may be -1 (old LLaMA configs say "none" that way).
        Integer(root, "bos_token_id", 0, int.MaxValue, problems);
        Integer(root, "pad_token_id", -1, int.MaxValue, problems);
        if (Present(root, "eos_token_id", out var eos))
        {
            var ids = eos.ValueKind == JsonValueKind.Array ? eos.EnumerateArray().ToList() : [eos];
            if (eos.ValueKind is not (JsonValueKind.Array or JsonValueKind.Number) || ids.Any(id => !IsInteger(id, 0, int.MaxValue, out _)))
                problems.Add(("eos_token_id", $"'eos_token_id' must be a token id (an integer from 0 to {int.MaxValue}) or a list of them, found {eos.GetRawText()}"));
        }
        if (Present(root, "partial_rotary_factor", out var partial) && !(partial.ValueKind == JsonValueKind.Number && partial.GetDouble() is > 0 and <= 1))
            problems.Add(("partial_rotary_factor", "'partial_rotary_factor' must be a number in (0, 1]"));

        foreach (var ropeKey in new[] { "rope_parameters", "rope_scaling" })
        {
            if (!Present(root, ropeKey, out var rope)) continue;
            if (rope.ValueKind != JsonValueKind.Object)
            {
                problems.Add((ropeKey, $"'{ropeKey}' must be an object"));
                continue;
            }
            foreach (var key in RopePositiveNumbers) PositiveNumber(rope, key, problems, ropeKey + ".");
            Integer(rope, "original_max_position_embeddings", 1, SizeLimits["original_max_position_embeddings"], problems, ropeKey + ".");
            if (Present(rope, "partial_rotary_factor", out var p) && !(p.ValueKind == JsonValueKind.Number && p.GetDouble() is > 0 and <= 1))
                problems.Add((ropeKey, $"'{ropeKey}.partial_rotary_factor' must be a number in (0, 1]"));
        }

        // Shapes that cannot be built: attention heads must split the hidden size (without head_dim) and share key/value heads evenly.
        if (sizes.TryGetValue("num_attention_heads", out var heads))
        {
            if (!Present(root, "head_dim") && sizes.TryGetValue("hidden_size", out var hidden) && hidden % heads != 0)
                problems.Add(("num_attention_heads", $"hidden_size {hidden} is not a multiple of num_attention_heads {heads} (and no head_dim is given)"));
            if (sizes.TryGetValue("num_key_value_heads", out var kv) && heads % kv != 0)
                problems.Add(("num_key_value_heads", $"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}"));
        }
    }

    /// <summary>
    /// Before a model is allocated: the embedding table config.json implies must be the one the checkpoint holds, so a
    /// config that disagrees with its weights fails in milliseconds instead of allocating for the wrong shape.
    /// </summary>
    public static void CheckAgainstCheckpoint(ModelConfig config, CheckpointReader checkpoint)
    {
        const string embedding = "model.embed_tokens.weight";
        if (!checkpoint.Contains(embedding)) return;
        var shape = checkpoint.Info(embedding).Shape;
        if (shape.Length != 2 || shape[0] != config.VocabSize || shape[1] != config.HiddenSize)
            throw new LoraBuildException(ErrorCodes.TensorShapeMismatch,
                $"Tensor '{embedding}' has shape [{string.Join(", ", shape)}] but config.json implies [{config.VocabSize}, {config.HiddenSize}] " +
                "(vocab_size, hidden_size): config.json does not describe these weights.", checkpoint.Directory);
    }

    static bool Present(JsonElement element, string key) => Present(element, key, out _);

    static bool Present(JsonElement element, string key, out JsonElement value) =>
        element.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    static bool IsInteger(JsonElement value, long min, long max, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result) && result >= min && result <= max;
    }

    static long? Integer(JsonElement element, string key, long min, long max, List<(string, string)> problems, string prefix = "")
    {
        if (!Present(element, key, out var value)) return null;
        if (IsInteger(value, min, max, out var result)) return result;
        problems.Add((key, $"'{prefix}{key}' must be an integer from {min} to {max}, found {Shorten(value.GetRawText())}"));
        return null;
    }

    static void PositiveNumber(JsonElement element, string key, List<(string, string)> problems, string prefix = "")
    {
        if (!Present(element, key, out var value)) return;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number) && number > 0) return;
        problems.Add((key, $"'{prefix}{key}' must be a positive finite number, found {Shorten(value.GetRawText())}"));
    }

    static string Shorten(string raw) => raw.Length <= 40 ? raw : raw[..40] + "...";

    /// <summary>1-based line of the first occurrence of <c>"key"</c> (0 when not found).</summary>
    static int LineOf(string text, string key)
    {
        if (key.Length == 0) return 0;
        var index = text.IndexOf("\"" + key + "\"", StringComparison.Ordinal);
        return index < 0 ? 0 : text.AsSpan(0, index).Count('\n') + 1;
    }
}
