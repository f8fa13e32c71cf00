using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraBuild.Tasks;

/// <summary>Validates &lt;LoraAdapter&gt; items and turns them into worker settings, by the one table in
/// <see cref="AdapterItemSettings"/> (LoraBuild.Contracts).</summary>
public static class AdapterSettings
{
    /// <summary>Checks one item; returns false after logging coded errors that name item, metadata and project line.</summary>
    public static bool Validate(ITaskItem item, string projectFile, TaskLoggingHelper log)
    {
        var ok = true;
        var line = ItemLine(projectFile, "LoraAdapter", item.ItemSpec);
        foreach (var setting in AdapterItemSettings.All.Concat(AdapterItemSettings.Export))
        {
            var value = item.GetMetadata(setting.Metadata);
            if (string.IsNullOrEmpty(value)) continue;
            var problem = setting.Kind switch
            {
                AdapterItemSettings.Kind.Integer when !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) || i < 0 => "is not a non-negative integer",
                AdapterItemSettings.Kind.Number when !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d < 0 || double.IsNaN(d) => "is not a non-negative number",
                AdapterItemSettings.Kind.Boolean when !bool.TryParse(value, out _) => "is not true or false",
                AdapterItemSettings.Kind.Choice when !setting.Choices.Contains(value.ToLowerInvariant()) => "is not one of " + string.Join(", ", setting.Choices),
                AdapterItemSettings.Kind.Path when setting.Metadata == "BaseModel" && !File.Exists(Path.Combine(value, "config.json")) => "is not a Hugging Face model folder (no config.json)",
                AdapterItemSettings.Kind.Path when setting.Metadata != "BaseModel" && !File.Exists(value) => "does not exist",
                _ => null,
            };
            if (problem is null) continue;
            log.LogError(null, "LB0201", null, projectFile, line, 0, 0, 0,
                "LoraAdapter '{0}': {1}=\"{2}\" {3}.", item.ItemSpec, setting.Metadata, value, problem);
            ok = false;
        }
        foreach (var required in new[] { "BaseModel", "Dataset" })
        {
            if (!string.IsNullOrEmpty(item.GetMetadata(required)) || !string.IsNullOrEmpty(item.GetMetadata("Config"))) continue;
            log.LogError(null, "LB0202", null, projectFile, line, 0, 0, 0,
                "LoraAdapter '{0}' needs {1} (or a Config file that sets it).", item.ItemSpec, required);
            ok = false;
        }
        var config = item.GetMetadata("Config");
        if (!string.IsNullOrEmpty(config) && !File.Exists(config))
        {
            log.LogError(null, "LB0201", null, projectFile, line, 0, 0, 0, "LoraAdapter '{0}': Config=\"{1}\" does not exist.", item.ItemSpec, config);
            ok = false;
        }
        return ok;
    }

    /// <summary>The worker's --set arguments for an item (only metadata that is set).</summary>
    public static IEnumerable<(string Key, string Value)> WorkerSettings(ITaskItem item)
    {
        foreach (var setting in AdapterItemSettings.All)
        {
            var value = item.GetMetadata(setting.Metadata);
            if (string.IsNullOrEmpty(value)) continue;
            yield return (setting.WorkerKey, setting.Kind == AdapterItemSettings.Kind.Path ? Path.GetFullPath(value) : value);
        }
        // Anything else the worker knows: TrainingSettings="lr_scheduler=cosine;warmup_steps=10".
        foreach (var pair in item.GetMetadata("TrainingSettings").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=');
            if (equals > 0) yield return (pair[..equals].Trim(), pair[(equals + 1)..].Trim());
        }
    }

    /// <summary>Line of the element declaring an item in the project file (0 when it is declared elsewhere).</summary>
    public static int ItemLine(string projectFile, string itemType, string include)
    {
        try
        {
            var document = XDocument.Load(projectFile, LoadOptions.SetLineInfo);
            var element = document.Descendants().FirstOrDefault(e => e.Name.LocalName == itemType && (string?)e.Attribute("Include") == include);
            return element is IXmlLineInfo info && info.HasLineInfo() ? info.LineNumber : 0;
        }
        catch (Exception e) when (e is IOException or XmlException)
        {
            return 0;
        }
    }
}
