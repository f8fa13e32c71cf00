using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace LoraBuild.Tasks;

/// <summary>
/// Checks &lt;LoraEvalGate Include="adapter" Metric=".." Min=".." Max=".." MinImprovementOverBase=".."/&gt; items against
/// each adapter's metrics.json (written by training: the adapter's and the base model's metrics on EvalDataset).
/// Prints the table on success too; every failed gate is a coded error naming metric, value, threshold and base value.
/// </summary>
public sealed class EvaluateLoraGates : Microsoft.Build.Utilities.Task
{
    static readonly HashSet<string> LowerIsBetter = ["eval_loss", "perplexity"];
    static readonly string[] Metrics = ["eval_loss", "perplexity", "token_accuracy", "exact_match"];

    [Required] public ITaskItem[] Adapters { get; set; } = [];
    public ITaskItem[] Gates { get; set; } = [];
    [Required] public string ProjectFile { get; set; } = "";

    public override bool Execute()
    {
        foreach (var gate in Gates)
        {
            var line = AdapterSettings.ItemLine(ProjectFile, "LoraEvalGate", gate.ItemSpec);
            var adapter = Adapters.FirstOrDefault(a => string.Equals(a.ItemSpec, gate.ItemSpec, StringComparison.OrdinalIgnoreCase));
            if (adapter is null)
            {
                Log.LogError(null, "LB0211", null, ProjectFile, line, 0, 0, 0, "LoraEvalGate '{0}' names no LoraAdapter of this project.", gate.ItemSpec);
                continue;
            }
            var metric = gate.GetMetadata("Metric");
            if (!Metrics.Contains(metric))
            {
                Log.LogError(null, "LB0212", null, ProjectFile, line, 0, 0, 0, "LoraEvalGate '{0}': Metric=\"{1}\" is not one of {2}.", gate.ItemSpec, metric, string.Join(", ", Metrics));
                continue;
            }
            var metricsPath = Path.Combine(adapter.GetMetadata("RunDirectory"), "metrics.json");
            using var document = JsonDocument.Parse(File.ReadAllText(metricsPath));
            var root = document.RootElement;
            if (!root.TryGetProperty("eval", out var eval) || eval.ValueKind != JsonValueKind.Object)
            {
                Log.LogError(null, "LB0213", null, ProjectFile, line, 0, 0, 0, "LoraEvalGate '{0}': the adapter has no EvalDataset, so there is nothing to gate.", gate.ItemSpec);
                continue;
            }
            var value = Number(eval, metric);
            var baseValue = root.TryGetProperty("base_eval", out var b) && b.ValueKind == JsonValueKind.Object ? Number(b, metric) : null;
            var row = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"gate {gate.ItemSpec} {metric} = {value:0.####}"));
            if (baseValue is { } bv) row.Append(string.Create(CultureInfo.InvariantCulture, $" (base {bv:0.####})"));
            var failures = new List<string>();
            if (value is not { } v)
            {
                failures.Add("not measured");
            }
            else
            {
                if (Threshold(gate, "Min") is { } min) { row.Append($", min {min.ToString(CultureInfo.InvariantCulture)}"); if (v < min) failures.Add($"below Min {min.ToString(CultureInfo.InvariantCulture)}"); }
                if (Threshold(gate, "Max") is { } max) { row.Append($", max {max.ToString(CultureInfo.InvariantCulture)}"); if (v > max) failures.Add($"above Max {max.ToString(CultureInfo.InvariantCulture)}"); }
                if (Threshold(gate, "MinImprovementOverBase") is { } improvement)
                {
                    row.Append($", improvement over base >= {improvement.ToString(CultureInfo.InvariantCulture)}");
                    if (baseValue is not { } baseV) failures.Add("has no base-model value to compare with");
                    else
                    {
                        var gained = LowerIsBetter.Contains(metric) ? baseV - v : v - baseV;
                        if (gained < improvement) failures.Add(string.Create(CultureInfo.InvariantCulture, $"improves on the base by {gained:0.####}, less than MinImprovementOverBase {improvement}"));
                    }
                }
            }
            if (failures.Count == 0)
            {
                BuildProgress.Line(BuildEngine, nameof(EvaluateLoraGates), $"  {row}: passed");
                continue;
            }
            Log.LogError(null, "LB0210", null, ProjectFile, line, 0, 0, 0,
                "Evaluation gate failed: adapter '{0}' {1} = {2}{3}: {4}.", gate.ItemSpec, metric,
                value?.ToString("0.####", CultureInfo.InvariantCulture) ?? "n/a",
                baseValue is { } bb ? string.Create(CultureInfo.InvariantCulture, $" (base model {bb:0.####})") : "", string.Join("; ", failures));
        }
        return !Log.HasLoggedErrors;
    }

    static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    double? Threshold(ITaskItem gate, string name)
    {
        var text = gate.GetMetadata(name);
        if (string.IsNullOrEmpty(text)) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) return value;
        Log.LogError(null, "LB0212", null, ProjectFile, AdapterSettings.ItemLine(ProjectFile, "LoraEvalGate", gate.ItemSpec), 0, 0, 0,
            "LoraEvalGate '{0}': {1}=\"{2}\" is not a number.", gate.ItemSpec, name, text);
        return null;
    }
}
