using System.Text.RegularExpressions;
using LoraBuild.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace LoraBuild.Training.Data;

/// <summary>Axolotl's inline user-defined dataset type (prompt_strategies/user_defined.py: UserDefinedDatasetConfig, same defaults).</summary>
public sealed record UserDefinedFormat(
    string SystemPrompt = "",
    string FieldSystem = "system",
    string FieldInstruction = "instruction",
    string FieldInput = "input",
    string FieldOutput = "output",
    string Format = "{instruction} {input} ",
    string NoInputFormat = "{instruction} ",
    string SystemFormat = "{system}");

/// <summary>
/// One entry of Axolotl's <c>datasets:</c> list (utils/schemas/datasets.py SFTDataset), with where it was written. A
/// <see cref="Path"/> that is a local file or folder reads from disk; an <c>org/name</c> id that is not a local path is a
/// Hub dataset (resolved through <see cref="IDatasetSource"/>).
/// </summary>
public sealed record DatasetSpec(string Path, string Source, int Line, int Column = 0)
{
    /// <summary>alpaca, alpaca:phi, completion, input_output, chat_template ... ; null: each row's fields decide (LoraBuild's own JSONL shapes).</summary>
    public string? Type { get; init; }
    public UserDefinedFormat? UserDefined { get; init; }
    public string? DsType { get; init; }
    public IReadOnlyList<string> DataFiles { get; init; } = [];
    public string? Split { get; init; }
    public string? Name { get; init; }
    public string? Revision { get; init; }
    /// <summary>completion: the text column (default "text").</summary>
    public string? Field { get; init; }
    public string FieldMessages { get; init; } = "messages";
    public string FieldSystem { get; init; } = "system";
    public IReadOnlyDictionary<string, string> MessagePropertyMappings { get; init; } = new Dictionary<string, string> { ["role"] = "role", ["content"] = "content" };
    /// <summary>Dataset role name -> template role (Axolotl's default maps human/gpt onto user/assistant).</summary>
    public IReadOnlyDictionary<string, string> Roles { get; init; } = DefaultRoles;
    public bool DropSystemMessage { get; init; }
    public IReadOnlyList<string> RolesToTrain { get; init; } = ["assistant"];
    public bool IsHub { get; init; }

    public static readonly IReadOnlyDictionary<string, string> DefaultRoles = new Dictionary<string, string>
    {
        ["human"] = "user", ["user"] = "user", ["assistant"] = "assistant", ["gpt"] = "assistant", ["system"] = "system", ["tool"] = "tool",
    };

    /// <summary>The dataset types implemented here (one strategy each under Data/Strategies).</summary>
    public static readonly string[] KnownTypes = ["alpaca", "alpaca:chat", "alpaca:chatml", "alpaca:phi", "alpaca:instruct", "alpaca_chat", "alpaca_w_system", "alpaca_w_system.load_instruct",
        "completion", "input_output", "chat_template", "sharegpt"];

    static readonly string[] Fields = ["path", "split", "type", "data_files", "name", "ds_type", "field", "field_messages", "field_system", "message_property_mappings",
        "message_field_role", "message_field_content", "roles", "drop_system_message", "roles_to_train", "train_on_eos", "train_on_eot", "revision", "chat_template",
        "trust_remote_code", "conversation", "shards", "shards_idx", "preprocess_shards", "input_transform", "chat_template_jinja", "input_format", "field_human",
        "field_model", "field_tools", "field_thinking", "template_thinking_key", "message_field_training", "message_field_training_detail", "split_thinking",
        "logprobs_field", "temperature"];

    /// <summary>Fields accepted without effect here (with the reason, for the note).</summary>
    static readonly Dictionary<string, string> NoEffect = new()
    {
        ["trust_remote_code"] = "no remote code runs here",
        ["train_on_eot"] = "the assistant turn's end marker is learned with the turn",
        ["chat_template"] = "the model's chat template is used (the config's chat_template key)",
    };

    static readonly Regex HubId = new(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$", RegexOptions.CultureInvariant);

    /// <summary>An <c>org/name</c> id that is not a local path relative to <paramref name="folder"/>.</summary>
    public static bool LooksLikeHubId(string path, string folder) =>
        HubId.IsMatch(path) && !path.StartsWith('.') && !File.Exists(System.IO.Path.Combine(folder, path)) && !Directory.Exists(System.IO.Path.Combine(folder, path));

    /// <summary>Reads the <c>datasets:</c> (or <c>test_datasets:</c>) list; every problem at once into <paramref name="errors"/>.</summary>
    public static List<DatasetSpec> ParseList(YamlNode node, string file, string key, List<LoraBuildException> errors, List<string> notes)
    {
        LoraBuildException Error(YamlNode at, string message) => new(ErrorCodes.DatasetSpecInvalid, $"{key}: {message}", file, (int)at.Start.Line, column: (int)at.Start.Column);
        var result = new List<DatasetSpec>();
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
        {
            errors.Add(Error(node, "expected a list of entries such as - path: data.jsonl / type: alpaca."));
            return result;
        }
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!;
        foreach (var item in list.Children)
        {
            if (item is not YamlMappingNode map)
            {
                errors.Add(Error(item, "each entry must be a mapping with at least a path."));
                continue;
            }
            var before = errors.Count;
            var fields = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            foreach (var (k, v) in map.Children)
            {
                var name = (k as YamlScalarNode)?.Value ?? "";
                if (!Fields.Contains(name)) errors.Add(Error(k, $"unknown dataset field '{name}' (known: {string.Join(", ", Fields.Take(16))} ...)."));
                else fields[name] = v;
            }
            string? Scalar(string name)
            {
                if (!fields.TryGetValue(name, out var v)) return null;
                if (v is YamlScalarNode s) return string.IsNullOrEmpty(s.Value) || s.Value is "~" or "null" ? null : s.Value;
                errors.Add(Error(v, $"'{name}' must be a single value."));
                return null;
            }
            bool Bool(string name) => Scalar(name)?.ToLowerInvariant() switch
            {
                null or "false" or "no" => false,
                "true" or "yes" => true,
                var other => Fail(other!),
            };
            bool Fail(string value)
            {
                errors.Add(Error(fields[value], $"expected true or false, got '{value}'."));
                return false;
            }
            List<string> Strings(string name) => !fields.TryGetValue(name, out var v) ? [] : v switch
            {
                YamlSequenceNode s => s.Children.OfType<YamlScalarNode>().Select(c => c.Value ?? "").ToList(),
                YamlScalarNode { Value: { Length: > 0 } one } => [one],
                _ => [],
            };
            Dictionary<string, string> Map(string name)
            {
                var dict = new Dictionary<string, string>(StringComparer.Ordinal);
                if (!fields.TryGetValue(name, out var v) || v is YamlScalarNode { Value: null or "" }) return dict;
                if (v is not YamlMappingNode m) { errors.Add(Error(v, $"'{name}' must be a mapping.")); return dict; }
                foreach (var (mk, mv) in m.Children) dict[((YamlScalarNode)mk).Value ?? ""] = (mv as YamlScalarNode)?.Value ?? "";
                return dict;
            }

            var path = Scalar("path");
            if (path is null)
            {
                errors.Add(Error(map, "an entry needs a path (a local file or folder, or a Hub dataset id org/name)."));
                continue;
            }
            var hub = LooksLikeHubId(path, folder);
            var spec = new DatasetSpec(hub ? path : System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, path)), file, (int)map.Start.Line, (int)map.Start.Column) { IsHub = hub };

            // type: a name, or a mapping = the inline user-defined format.
            if (fields.TryGetValue("type", out var typeNode) && typeNode is YamlMappingNode typeMap)
            {
                var f = new UserDefinedFormat();
                foreach (var (tk, tv) in typeMap.Children)
                {
                    var value = (tv as YamlScalarNode)?.Value ?? "";
                    f = ((YamlScalarNode)tk).Value switch
                    {
                        "system_prompt" => f with { SystemPrompt = value },
                        "field_system" => f with { FieldSystem = value },
                        "field_instruction" => f with { FieldInstruction = value },
                        "field_input" => f with { FieldInput = value },
                        "field_output" => f with { FieldOutput = value },
                        "format" => f with { Format = value },
                        "no_input_format" => f with { NoInputFormat = value },
                        "system_format" => f with { SystemFormat = value },
                        var other => Unknown(tk, other, f),
                    };
                }
                UserDefinedFormat Unknown(YamlNode at, string? name, UserDefinedFormat f)
                {
                    errors.Add(Error(at, $"unknown user-defined format field '{name}' (system_prompt, field_system, field_instruction, field_input, field_output, format, no_input_format, system_format)."));
                    return f;
                }
                spec = spec with { Type = "user_defined", UserDefined = f };
            }
            else if (Scalar("type") is { } type)
            {
                if (!KnownTypes.Contains(type))
                    errors.Add(Error(typeNode!, $"type '{type}' is not implemented here (implemented: {string.Join(", ", KnownTypes)}, or an inline format mapping)."));
                spec = spec with { Type = type };
            }

            var mappings = Map("message_property_mappings");
            if (Scalar("message_field_role") is { } role) mappings.TryAdd("role", role);
            if (Scalar("message_field_content") is { } content) mappings.TryAdd("content", content);
            mappings.TryAdd("role", "role");
            mappings.TryAdd("content", "content");
            var roles = new Dictionary<string, string>(StringComparer.Ordinal);
            if (fields.TryGetValue("roles", out var rolesNode) && rolesNode is YamlMappingNode rolesMap)
                foreach (var (rk, rv) in rolesMap.Children)
                    foreach (var sourceRole in rv is YamlSequenceNode seq ? seq.Children.OfType<YamlScalarNode>().Select(c => c.Value ?? "") : [((YamlScalarNode)rv).Value ?? ""])
                        roles[sourceRole] = ((YamlScalarNode)rk).Value ?? "";
            var dsType = Scalar("ds_type");
            if (dsType is not (null or "json" or "parquet" or "csv" or "text" or "arrow"))
                errors.Add(Error(fields["ds_type"], $"ds_type '{dsType}' is not one of json, parquet, csv."));
            foreach (var unused in new[] { "shards", "shards_idx", "preprocess_shards", "input_transform", "chat_template_jinja", "input_format", "field_human", "field_model",
                         "field_tools", "field_thinking", "template_thinking_key", "message_field_training", "message_field_training_detail", "split_thinking", "logprobs_field", "temperature", "conversation" })
                if (fields.TryGetValue(unused, out var at) && at is not YamlScalarNode { Value: null or "" or "false" })
                    errors.Add(Error(at, $"dataset field '{unused}' is not supported here."));
            foreach (var (field, why) in NoEffect)
                if (fields.TryGetValue(field, out var at) && at is YamlScalarNode { Value: { Length: > 0 } })
                    notes.Add($"{file}({(int)at.Start.Line},{(int)at.Start.Column}): note: {key} {field}: accepted, changes nothing here: {why}.");
            var rolesToTrain = Strings("roles_to_train");
            // Only assistant turns are learned here, with their end marker (Axolotl's defaults); other choices would change the loss.
            if (rolesToTrain.Count > 0 && !rolesToTrain.All(r => (roles.Count > 0 ? roles : DefaultRoles).GetValueOrDefault(r, r) == "assistant"))
                errors.Add(Error(fields["roles_to_train"], "roles_to_train other than assistant is not supported here (only assistant turns are learned)."));
            if (Scalar("train_on_eos") is { } eos && eos != "turn")
                errors.Add(Error(fields["train_on_eos"], $"train_on_eos: {eos} is not supported here; the end marker of each learned turn is learned (turn, Axolotl's default)."));
            spec = spec with
            {
                DsType = dsType,
                DataFiles = Strings("data_files"),
                Split = Scalar("split"),
                Name = Scalar("name"),
                Revision = Scalar("revision"),
                Field = Scalar("field"),
                FieldMessages = Scalar("field_messages") ?? "messages",
                FieldSystem = Scalar("field_system") ?? "system",
                MessagePropertyMappings = mappings,
                Roles = roles.Count > 0 ? roles : DefaultRoles,
                DropSystemMessage = Bool("drop_system_message"),
                RolesToTrain = rolesToTrain.Count > 0 ? rolesToTrain.Select(r => (roles.Count > 0 ? roles : DefaultRoles).GetValueOrDefault(r, r)).ToList() : ["assistant"],
            };
            if (!hub && (spec.Revision is not null || spec.Name is not null))
                errors.Add(Error(map, $"'{path}' is a local path; revision and name apply to Hub datasets only."));
            if (errors.Count == before) result.Add(spec);
        }
        return result;
    }
}
