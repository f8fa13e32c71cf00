using LoraBuild.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoraBuild.Training.Data.Hub;

/// <summary>One entry of a dataset card's <c>configs:</c>: its name, whether it is the default, and its files per split or its folder.</summary>
public sealed record DatasetCardConfig(string Name, bool IsDefault, IReadOnlyDictionary<string, IReadOnlyList<string>>? DataFiles, string? DataDir);

/// <summary>
/// The <c>configs:</c> list of a dataset repository's README.md YAML header, as huggingface datasets reads it
/// (utils/metadata.py MetadataConfigs, data_files.py sanitize_patterns): data_files is a pattern, a list of patterns
/// (both the train split), a mapping split -> pattern(s), or a list of {split, path}; data_dir is a folder whose files
/// are split as a repository's are.
/// </summary>
public static class DatasetCardConfigs
{
    /// <summary>The configs of a README.md; empty when it has no YAML header or no configs.</summary>
    public static IReadOnlyList<DatasetCardConfig> Read(string readmePath, string source)
    {
        var text = File.ReadAllText(readmePath).Replace("\r\n", "\n");
        if (!text.StartsWith("---\n", StringComparison.Ordinal)) return [];
        var end = text.IndexOf("\n---", 4, StringComparison.Ordinal);
        if (end < 0) return [];
        LoraBuildException Invalid(string why) => new(ErrorCodes.HubDatasetCardInvalid, $"{source}: README.md configs: {why}", readmePath);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text[4..end]));
        }
        catch (YamlException e)
        {
            throw Invalid($"the YAML header is not valid ({e.Message}).");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("configs"), out var configsNode)) return [];
        if (configsNode is not YamlSequenceNode list) throw Invalid("expected a list.");
        var configs = new List<DatasetCardConfig>();
        foreach (var item in list.Children)
        {
            if (item is not YamlMappingNode map) throw Invalid("each config must be a mapping with config_name.");
            string? Scalar(string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? (v as YamlScalarNode)?.Value : null;
            var name = Scalar("config_name") ?? throw Invalid("a config has no config_name.");
            var isDefault = Scalar("default") is { } d && d.Equals("true", StringComparison.OrdinalIgnoreCase);
            var dataFiles = map.Children.TryGetValue(new YamlScalarNode("data_files"), out var filesNode) ? SplitPatterns(filesNode, name, Invalid) : null;
            configs.Add(new DatasetCardConfig(name, isDefault, dataFiles, Scalar("data_dir")));
        }
        return configs;
    }

    /// <summary>datasets' sanitize_patterns: split -> patterns.</summary>
    static Dictionary<string, IReadOnlyList<string>> SplitPatterns(YamlNode node, string config, Func<string, LoraBuildException> invalid)
    {
        static List<string> Patterns(YamlNode n) => n switch
        {
            YamlScalarNode s => [s.Value ?? ""],
            YamlSequenceNode seq => seq.Children.OfType<YamlScalarNode>().Select(c => c.Value ?? "").ToList(),
            _ => [],
        };
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        switch (node)
        {
            case YamlScalarNode one:
                result["train"] = [one.Value ?? ""];
                break;
            case YamlMappingNode bySplit:
                foreach (var (k, v) in bySplit.Children) result[((YamlScalarNode)k).Value ?? ""] = Patterns(v);
                break;
            case YamlSequenceNode seq when seq.Children.Any(c => c is YamlMappingNode):
                foreach (var entry in seq.Children)
                {
                    if (entry is not YamlMappingNode m || !m.Children.TryGetValue(new YamlScalarNode("split"), out var split)
                        || !m.Children.TryGetValue(new YamlScalarNode("path"), out var path))
                        throw invalid($"config '{config}': each data_files entry needs split and path.");
                    var name = (split as YamlScalarNode)?.Value ?? "";
                    if (!result.TryAdd(name, Patterns(path))) throw invalid($"config '{config}': split '{name}' is listed twice in data_files.");
                }
                break;
            case YamlSequenceNode patterns:
                result["train"] = Patterns(patterns);
                break;
        }
        return result;
    }
}
