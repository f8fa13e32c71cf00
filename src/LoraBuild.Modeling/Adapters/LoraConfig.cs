using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LoraBuild.Diagnostics;

namespace LoraBuild.Adapters;

/// <summary>How LoRA A is initialised: PEFT's default (kaiming-uniform A, zero B), gaussian A, or no init (identity tests).</summary>
public enum LoraInit { Default, Gaussian, None }

/// <summary>
/// PEFT's LoraConfig, the fields that decide an adapter (adapter_config.json). <see cref="TargetModules"/> is either a list
/// of names (a module matches when its name equals an entry or ends with "." + entry), a regex string (full match), or
/// PEFT's "all-linear" shorthand (every linear layer but the output head).
/// </summary>
public sealed record LoraConfig
{
    public const string AllLinear = "all-linear";
    public const string FileName = "adapter_config.json";

    public int R { get; init; } = 8;
    public double LoraAlpha { get; init; } = 8;
    public double LoraDropout { get; init; }
    public IReadOnlyList<string>? TargetModuleList { get; init; }
    public string? TargetModuleRegex { get; init; }
    public IReadOnlyList<string>? ExcludeModules { get; init; }
    public bool UseRslora { get; init; }
    public bool UseDora { get; init; }
    public IReadOnlyDictionary<string, int> RankPattern { get; init; } = new Dictionary<string, int>();
    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();
    public LoraInit InitLoraWeights { get; init; } = LoraInit.Default;
    public string? BaseModelNameOrPath { get; init; }
    public string TaskType { get; init; } = "CAUSAL_LM";
    /// <summary>PEFT's modules_to_save: modules trained whole beside the LoRA factors (<see cref="ModulesToSave"/>).</summary>
    public IReadOnlyList<string>? ModulesToSave { get; init; }

    public static LoraConfig ForTargets(params string[] targets) =>
        targets is [AllLinear] ? new LoraConfig { TargetModuleRegex = AllLinear } : new LoraConfig { TargetModuleList = targets };

    public bool IsAllLinear => string.Equals(TargetModuleRegex, AllLinear, StringComparison.OrdinalIgnoreCase);

    /// <summary>PEFT's check_target_module_exists for a module name (exclusions first, then targets). A module trained
    /// whole (modules_to_save) is never a LoRA target, as in PEFT.</summary>
    public bool Targets(string moduleName, bool isOutputHead)
    {
        if (ExcludeModules is { } excluded && excluded.Any(e => moduleName == e || moduleName.EndsWith("." + e, StringComparison.Ordinal)))
            return false;
        if (ModulesToSave is { } saved && saved.Any(m => moduleName == m || moduleName.EndsWith("." + m, StringComparison.Ordinal)))
            return false;
        if (IsAllLinear) return !isOutputHead;
        if (TargetModuleRegex is { } regex) return Regex.IsMatch(moduleName, "^(?:" + regex + ")$");
        return TargetModuleList is { } list && list.Any(t => moduleName == t || moduleName.EndsWith("." + t, StringComparison.Ordinal));
    }

    /// <summary>Rank and alpha for one module: the first rank_pattern / alpha_pattern key matching it, as PEFT's get_pattern_key.</summary>
    public (int Rank, double Alpha) RankAndAlpha(string moduleName)
    {
        var rank = RankPattern.FirstOrDefault(p => PatternMatches(p.Key, moduleName)) is { Key: not null } r ? r.Value : R;
        var alpha = AlphaPattern.FirstOrDefault(p => PatternMatches(p.Key, moduleName)) is { Key: not null } a ? a.Value : LoraAlpha;
        return (rank, alpha);
    }

    static bool PatternMatches(string pattern, string moduleName) =>
        Regex.IsMatch(moduleName, "^(.*\\.)?(" + pattern + ")$");

    public double Scaling(int rank, double alpha) => UseRslora ? alpha / Math.Sqrt(rank) : alpha / rank;

    public static LoraConfig Load(string adapterDirectory)
    {
        var path = Path.Combine(adapterDirectory, FileName);
        if (!File.Exists(path))
            throw new LoraBuildException(ErrorCodes.AdapterConfigMissing, $"{FileName} is missing: this is not a PEFT adapter folder.",
                Directory.Exists(adapterDirectory) ? path : adapterDirectory);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new LoraBuildException(ErrorCodes.AdapterConfigInvalid, $"{FileName} is not valid JSON: {e.Message}", path, (int)(e.LineNumber ?? 0) + 1);
        }
        if (root is not JsonObject json) throw new LoraBuildException(ErrorCodes.AdapterConfigInvalid, $"{FileName} must be a JSON object.", path);
        try
        {
            var config = FromJson(json, path);
            config.CheckPatterns(path);
            return config;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            // A value of the wrong JSON type deep in a list or map, or a string that is not valid Unicode.
            throw new LoraBuildException(ErrorCodes.AdapterConfigInvalid, $"{FileName} holds a value of the wrong type or invalid text: {e.Message}", path);
        }
    }

    /// <summary>Every regex the config holds compiles, every pattern rank is positive (PEFT's patterns are regexes too).</summary>
    void CheckPatterns(string path)
    {
        var problems = new List<string>();
        void CheckRegex(string what, string pattern)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                problems.Add($"{what} '{pattern}' is not a valid regex ({e.Message})");
            }
        }
        if (TargetModuleRegex is { } regex && !IsAllLinear) CheckRegex("target_modules", regex);
        foreach (var (key, rank) in RankPattern)
        {
            CheckRegex("rank_pattern key", key);
            if (rank <= 0) problems.Add($"rank_pattern '{key}' must be a positive integer, found {rank}");
        }
        foreach (var (key, _) in AlphaPattern) CheckRegex("alpha_pattern key", key);
        if (problems.Count > 0)
            throw new LoraBuildException(ErrorCodes.AdapterConfigInvalid, $"{FileName}: " + string.Join("; ", problems) + ".", path);
    }

    static Dictionary<string, T> Pattern<T>(JsonNode? node, string key, Func<JsonValue, (bool, T)> read, string expected, string path)
    {
        if (node is null) return new Dictionary<string, T>();
        if (node is not JsonObject map)
            throw new LoraBuildException(ErrorCodes.AdapterConfigInvalid, $"'{key}' must be an object mapping module patterns to {expected}.", path);
        var result = new Dictionary<string, T>();
        var bad = new List<string>();
        foreach (var (name, value) in map)
        {
            if (value is JsonValue v && read(v) is (true, var parsed)) result[name] = parsed;
            else bad.Add($"'{name}': {value?.ToJsonString() ?? "null"}");
        }
        if (bad.Count > 0)
            throw new LoraBuildException(ErrorCodes.AdapterConfigInvalid, $"'{key}' values must be {expected}; found {string.Join(", ", bad)}.", path);
        return result;
    }

    static LoraConfig FromJson(JsonObject json, string path)
    {
        LoraBuildException Invalid(string message) => new(ErrorCodes.AdapterConfigInvalid, message, path);
        LoraBuildException Unsupported(string message) => new(ErrorCodes.AdapterUnsupported, message, path);
        T Get<T>(string key, T fallback)
        {
            var node = json[key];
            if (node is null) return fallback;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Invalid($"'{key}' has the wrong type."); }
        }

        var peftType = Get<string?>("peft_type", "LORA");
        if (peftType != "LORA") throw Unsupported($"peft_type '{peftType}' is not supported (only LORA, with or without DoRA).");
        if (Get("bias", "none") != "none") throw Unsupported("bias other than 'none' is not supported.");
        if (Get("fan_in_fan_out", false)) throw Unsupported("fan_in_fan_out (Conv1D layers) is not supported.");
        if (Get("lora_bias", false)) throw Unsupported("lora_bias is not supported.");
        if (Get("use_qalora", false)) throw Unsupported("use_qalora is not supported.");
        foreach (var key in new[] { "layers_to_transform", "target_parameters", "trainable_token_indices", "layer_replication" })
        {
            if (json[key] is JsonArray { Count: > 0 } or JsonValue) throw Unsupported($"'{key}' is not supported.");
        }

        IReadOnlyList<string>? list = null;
        string? regex = null;
        switch (json["target_modules"])
        {
            case JsonArray array:
                list = array.Select(n => n is JsonValue v && v.TryGetValue<string>(out var t) ? t : throw Invalid("target_modules entries must be strings.")).ToList();
                break;
            case JsonValue value when value.TryGetValue<string>(out var text):
                regex = text;
                break;
            case null:
                throw Invalid("target_modules is missing.");
            default:
                throw Invalid("target_modules must be a list of names or a regex string.");
        }

        var init = json["init_lora_weights"] switch
        {
            null => LoraInit.Default,
            JsonValue v when v.TryGetValue<bool>(out var b) => b ? LoraInit.Default : LoraInit.None,
            JsonValue v when v.TryGetValue<string>(out var s) && s == "gaussian" => LoraInit.Gaussian,
            _ => throw Unsupported("init_lora_weights must be true, false or \"gaussian\"."),
        };

        var modulesToSave = json["modules_to_save"] switch
        {
            null => null,
            JsonArray { Count: 0 } => null,
            JsonArray a => a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var m) ? m : throw Invalid("modules_to_save entries must be strings.")).ToList(),
            _ => throw Invalid("modules_to_save must be a list of module names."),
        };
        // PEFT's ensure_weight_tying shares one copy between tied embed_tokens and lm_head; here each keeps its own.
        if (modulesToSave is not null && Get("ensure_weight_tying", false))
            throw Unsupported("ensure_weight_tying with modules_to_save is not supported (each module trained whole keeps its own copy here).");

        var r = Get("r", 8);
        if (r <= 0) throw Invalid("'r' must be positive.");
        return new LoraConfig
        {
            R = r,
            LoraAlpha = Get("lora_alpha", 8.0),
            LoraDropout = Get("lora_dropout", 0.0),
            TargetModuleList = list,
            TargetModuleRegex = regex,
            ExcludeModules = json["exclude_modules"] switch
            {
                JsonArray a => a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var e) ? e : throw Invalid("exclude_modules entries must be strings.")).ToList(),
                JsonValue v when v.TryGetValue<string>(out var s) => throw Unsupported($"exclude_modules as a regex ('{s}') is not supported; list the names."),
                _ => null,
            },
            UseRslora = Get("use_rslora", false),
            UseDora = Get("use_dora", false),
            RankPattern = Pattern(json["rank_pattern"], "rank_pattern", v => (v.TryGetValue<int>(out var i), i), "positive integers", path),
            AlphaPattern = Pattern(json["alpha_pattern"], "alpha_pattern", v => (v.TryGetValue<double>(out var d) && double.IsFinite(d), d), "numbers", path),
            InitLoraWeights = init,
            BaseModelNameOrPath = Get<string?>("base_model_name_or_path", null),
            TaskType = Get<string?>("task_type", null) ?? "CAUSAL_LM",
            ModulesToSave = modulesToSave,
        };
    }

    /// <summary>adapter_config.json as PEFT writes it (keys sorted); "all-linear" is saved resolved, as PEFT does.</summary>
    public string ToJson(IEnumerable<string>? resolvedTargets = null)
    {
        JsonNode targets = IsAllLinear && resolvedTargets is not null
            ? new JsonArray(resolvedTargets.Select(t => t.Split('.')[^1]).Distinct().OrderBy(t => t, StringComparer.Ordinal).Select(t => (JsonNode)JsonValue.Create(t)!).ToArray())
            : TargetModuleList is { } list
                ? new JsonArray(list.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray())
                : JsonValue.Create(TargetModuleRegex)!;
        var json = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["alpha_pattern"] = new JsonObject(AlphaPattern.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["bias"] = "none",
            ["exclude_modules"] = ExcludeModules is null ? null : new JsonArray(ExcludeModules.Select(e => (JsonNode)JsonValue.Create(e)!).ToArray()),
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = InitLoraWeights switch { LoraInit.Gaussian => "gaussian", LoraInit.None => false, _ => true },
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = LoraAlpha,
            ["lora_dropout"] = LoraDropout,
            ["modules_to_save"] = ModulesToSave is null ? null : new JsonArray(ModulesToSave.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            ["peft_type"] = "LORA",
            ["r"] = R,
            ["rank_pattern"] = new JsonObject(RankPattern.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
            ["revision"] = null,
            ["target_modules"] = targets,
            ["task_type"] = TaskType,
            ["use_dora"] = UseDora,
            ["use_rslora"] = UseRslora,
        };
        var obj = new JsonObject(json.Select(p => KeyValuePair.Create(p.Key, p.Value)));
        return obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
