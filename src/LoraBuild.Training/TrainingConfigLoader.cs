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

    public static TrainingConfig Load(string path, TrainingConfig? into = null)
    {
        var config = into ?? new TrainingConfig();
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

        var errors = new List<LoraBuildException>();
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
                YamlScalarNode scalar => new TrainingConfig.Value(
                    PathKeys.Contains(key) && !string.IsNullOrEmpty(scalar.Value) ? Path.GetFullPath(Path.Combine(folder, scalar.Value)) : scalar.Value,
                    null, null, path, line, column),
                YamlSequenceNode sequence when sequence.Children.All(c => c is YamlMappingNode) && sequence.Children.Count > 0 =>
                    new TrainingConfig.Value(null, null, null, path, line, column,
                        sequence.Children.Select(c => (IReadOnlyDictionary<string, string>)PlainMapping(key, (YamlMappingNode)c, errors, Error)).ToList()),
                YamlSequenceNode sequence => new TrainingConfig.Value(null, sequence.Children.Select(c => Plain(key, c, errors, Error)).ToList(), null, path, line, column),
                YamlMappingNode mapping => new TrainingConfig.Value(null, null, PlainMapping(key, mapping, errors, Error), path, line, column),
                _ => null,
            };
            if (value is null) errors.Add(Error(ErrorCodes.ConfigValueInvalid, $"'{key}' has an unsupported value (an alias or tag).", valueNode));
            if (value is null || errors.Count > located) continue;
            // base_model as written: "org/name" is a Hub id when no such folder exists beside the file (the worker decides).
            if (key == "base_model" && valueNode is YamlScalarNode written) config.BaseModelAsWritten = written.Value;
            settings.Add((key, value));
        }
        config.ApplyAll(settings, errors);
        if (errors.Count > 0) throw LoraBuildException.All(errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList());
        return config;
    }

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
