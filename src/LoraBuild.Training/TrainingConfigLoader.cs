using LoraBuild.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoraBuild.Training;

/// <summary>
/// Reads an adapter YAML file into a <see cref="TrainingConfig"/> through YamlDotNet's node model, so every error names
/// the file and line of the offending key. Relative paths in the file are relative to the file's folder.
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
            throw new LoraBuildException(ErrorCodes.ConfigFileInvalid, $"Not valid YAML: {e.InnerException?.Message ?? e.Message}", path, (int)e.Start.Line);
        }
        if (stream.Documents.Count == 0) return config;
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LoraBuildException(ErrorCodes.ConfigFileInvalid, "The top level must be a mapping of key: value.", path, (int)stream.Documents[0].RootNode.Start.Line);

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var (keyNode, valueNode) in root.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var line = (int)keyNode.Start.Line;
            var value = valueNode switch
            {
                YamlScalarNode scalar => new TrainingConfig.Value(
                    PathKeys.Contains(key) && !string.IsNullOrEmpty(scalar.Value) ? Path.GetFullPath(Path.Combine(folder, scalar.Value)) : scalar.Value,
                    null, null, path, line),
                YamlSequenceNode sequence => new TrainingConfig.Value(null,
                    sequence.Children.Select(c => c is YamlScalarNode s ? s.Value ?? "" :
                        throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, $"'{key}' entries must be plain values.", path, (int)c.Start.Line)).ToList(),
                    null, path, line),
                YamlMappingNode mapping => new TrainingConfig.Value(null, null,
                    mapping.Children.ToDictionary(p => ((YamlScalarNode)p.Key).Value ?? "", p => (p.Value as YamlScalarNode)?.Value ??
                        throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, $"'{key}' values must be plain values.", path, (int)p.Value.Start.Line)),
                    path, line),
                _ => throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, $"'{key}' has an unsupported value.", path, line),
            };
            config.Apply(key, value);
        }
        return config;
    }
}
