using LoraBuild.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoraBuild.Training;

/// <summary>
/// Reads an adapter YAML file into a <see cref="TrainingConfig"/> through YamlDotNet's node model, so every error names
/// the file, line and column of the offending key or value, and every problem of the file is reported at once.
/// Relative paths in the file are relative to the file's folder. Axolotl's spellings are accepted (docs/training.md).
/// </summary>
public static class TrainingConfigLoader
{
    static readonly string[] PathKeys = ["base_model", "dataset", "train_dataset", "eval_dataset", "output_dir"];

    public static TrainingConfig Load(string path, TrainingConfig? into = null) => Load(path, into, null);

    /// <summary>With <paramref name="collect"/>, every problem goes there and the settings that were valid are applied (lorabuild check).</summary>
    public static TrainingConfig Load(string path, TrainingConfig? into, List<LoraBuildException>? collect)
    {
        var config = into ?? new TrainingConfig();
        if (collect is null) return LoadThrowing(path, config);
        try { LoadThrowing(path, config, collect); }
        catch (LoraBuildException e) { collect.AddRange(e.Errors); }
        return config;
    }

    static TrainingConfig LoadThrowing(string path, TrainingConfig config, List<LoraBuildException>? collect = null)
    {
        if (!File.Exists(path)) throw new LoraBuildException(ErrorCodes.ConfigFileInvalid, "Configuration file not found.", path);
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new LoraBuildException(ErrorCodes.ConfigFileInvalid, $"Not valid YAML: {e.InnerException?.Message ?? e.Message}", path, (int)e.Start.Line, column: (int)e.Start.Column);
        }
        catch (ArgumentException e)
        {
            // YamlDotNet's node model refuses a key written twice in one mapping.
            throw new LoraBuildException(ErrorCodes.ConfigFileInvalid, $"Not valid YAML: {e.Message}", path);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner can fail on some malformed input with no position (found by the fuzz harness).
            throw new LoraBuildException(ErrorCodes.ConfigFileInvalid, $"Not valid YAML (the parser stopped: {e.Message})", path);
        }
        if (stream.Documents.Count == 0) return config;

        var errors = collect ?? new List<LoraBuildException>();
        LoraBuildException Error(string code, string message, YamlNode at) => new(code, message, path, (int)at.Start.Line, column: (int)at.Start.Column);
        foreach (var extra in stream.Documents.Skip(1))
            errors.Add(Error(ErrorCodes.ConfigFileInvalid, "A second YAML document ('---'): an adapter configuration is one document.", extra.RootNode));
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw LoraBuildException.All([Error(ErrorCodes.ConfigFileInvalid, "The top level must be a mapping of key: value.", stream.Documents[0].RootNode), .. errors]);

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var settings = new List<(string, TrainingConfig.Value)>();
        foreach (var (keyNode, valueNode) in root.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { Length: > 0 } key })
            {
                errors.Add(Error(ErrorCodes.ConfigKeyUnknown, "A key must be a plain name (key: value), not a list or a mapping.", keyNode));
                continue;
            }
            var (line, column) = ((int)keyNode.Start.Line, (int)keyNode.Start.Column);
            var located = errors.Count;
            TrainingConfig.Value? value = valueNode switch
            {
                // A base_model that is an org/name id and not a local folder is a Hub model id, kept as written.
                YamlScalarNode { Value: { } hubId } when key == "base_model" && Data.DatasetSpec.LooksLikeHubId(hubId, folder) =>
                    new TrainingConfig.Value(hubId, null, null, path, line, column) { Node = scalar0(valueNode) },
                YamlScalarNode scalar => new TrainingConfig.Value(
                    PathKeys.Contains(key) && !string.IsNullOrEmpty(scalar.Value) ? Path.GetFullPath(Path.Combine(folder, scalar.Value)) : scalar.Value,
                    null, null, path, line, column) { Node = scalar },
                YamlSequenceNode sequence when sequence.Children.All(c => c is YamlMappingNode) && sequence.Children.Count > 0 =>
                    new TrainingConfig.Value(null, null, null, path, line, column,
                        sequence.Children.Select(c => (IReadOnlyDictionary<string, string>)PlainMappingLenient((YamlMappingNode)c)).ToList()) { Node = sequence },
                YamlSequenceNode sequence => new TrainingConfig.Value(null, sequence.Children.Select(c => Plain(key, c, errors, Error)).ToList(), null, path, line, column) { Node = sequence },
                // Nested mappings (fsdp_config, gradient_checkpointing_kwargs) are kept whole for the keys that only note them.
                YamlMappingNode mapping when mapping.Children.Values.Any(v => v is not YamlScalarNode) =>
                    new TrainingConfig.Value(null, null, PlainMappingLenient(mapping), path, line, column) { Node = mapping },
                YamlMappingNode mapping => new TrainingConfig.Value(null, null, PlainMapping(key, mapping, errors, Error), path, line, column) { Node = mapping },
                _ => null,
            };
            if (value is null) errors.Add(Error(ErrorCodes.ConfigValueInvalid, $"'{key}' has an unsupported value (an alias or tag).", valueNode));
            if (value is null || errors.Count > located) continue;
            // base_model as written: "org/name" is a Hub id when no such folder exists beside the file (the worker decides).
            if (key == "base_model" && valueNode is YamlScalarNode written) config.BaseModelAsWritten = written.Value;
            settings.Add((key, value));
        }
        config.ApplyAll(settings, errors);
        if (collect is not null) return config;
        if (errors.Count > 0) throw LoraBuildException.All(errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList());
        return config;
    }

    static YamlNode scalar0(YamlNode node) => node;

    /// <summary>A mapping's scalar entries (nested ones as empty text): for values read whole from <see cref="TrainingConfig.Value.Node"/>.</summary>
    static Dictionary<string, string> PlainMappingLenient(YamlMappingNode mapping) =>
        mapping.Children.Where(p => p.Key is YamlScalarNode).GroupBy(p => ((YamlScalarNode)p.Key).Value ?? "")
            .ToDictionary(g => g.Key, g => (g.First().Value as YamlScalarNode)?.Value ?? "");

    static string Plain(string key, YamlNode node, List<LoraBuildException> errors, Func<string, string, YamlNode, LoraBuildException> error)
    {
        if (node is YamlScalarNode scalar) return scalar.Value ?? "";
        errors.Add(error(ErrorCodes.ConfigValueInvalid, $"'{key}' entries must be plain values.", node));
        return "";
    }

    static Dictionary<string, string> PlainMapping(string key, YamlMappingNode mapping, List<LoraBuildException> errors, Func<string, string, YamlNode, LoraBuildException> error)
    {
        var result = new Dictionary<string, string>();
        foreach (var (k, v) in mapping.Children)
        {
            if (k is not YamlScalarNode { Value: { Length: > 0 } name })
            {
                errors.Add(error(ErrorCodes.ConfigValueInvalid, $"'{key}': a key must be a plain name, not a list or a mapping.", k));
                continue;
            }
            result[name] = Plain(key, v, errors, error);
        }
        return result;
    }
}
