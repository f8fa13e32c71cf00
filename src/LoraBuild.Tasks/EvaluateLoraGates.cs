using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using NuGet.Protocol.Core.Types;

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
    public string? PackageId { get; set; }
    public string? PackageVersion { get; set; }
    /// <summary>Where earlier versions of the package are published (push feed; cache feed), for MaxRegressionFromPrevious.</summary>
    public string? PreviousVersionFeeds { get; set; }

    readonly Dictionary<string, PreviousVersionMetrics.Found?> previous = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Adapters whose previous version could not be looked up (an error said why): their regression gates did not pass.</summary>
    readonly HashSet<string> uncheckedRegressions = new(StringComparer.OrdinalIgnoreCase);

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
            var metricsPath = Path.Combine(adapter.GetMetadata("RunDirectory"), RunLayout.MetricsFile);
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
                if (Threshold(gate, "MaxRegressionFromPrevious") is { } allowed && Previous(adapter.ItemSpec, eval, line) is { } earlier)
                {
                    row.Append($", regression from {PackageId} {earlier.Version} <= {allowed.ToString(CultureInfo.InvariantCulture)}");
                    if (earlier.Eval.TryGetValue(metric, out var before))
                    {
                        var regressed = LowerIsBetter.Contains(metric) ? v - before : before - v;
                        if (regressed > allowed)
                            failures.Add(string.Create(CultureInfo.InvariantCulture,
                                $"regressed by {regressed:0.####} from {before:0.####} in {PackageId} {earlier.Version}, more than MaxRegressionFromPrevious {allowed}"));
                    }
                    else
                    {
                        row.Append($" ({PackageId} {earlier.Version} has no {metric} for '{gate.ItemSpec}': nothing to compare)");
                    }
                }
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
            if (failures.Count == 0 && uncheckedRegressions.Contains(adapter.ItemSpec) && !string.IsNullOrEmpty(gate.GetMetadata("MaxRegressionFromPrevious"))) continue;
            if (failures.Count == 0)
            {
                BuildProgress.Line(BuildEngine, nameof(EvaluateLoraGates), $"  {row}: passed");
                continue;
            }
            var code = failures.Any(f => f.StartsWith("regressed", StringComparison.Ordinal)) ? "LB0251" : "LB0210";
            Log.LogError(null, code, null, ProjectFile, line, 0, 0, 0,
                "Evaluation gate failed: adapter '{0}' {1} = {2}{3}: {4}.", gate.ItemSpec, metric,
                value?.ToString("0.####", CultureInfo.InvariantCulture) ?? "n/a",
                baseValue is { } bb ? string.Create(CultureInfo.InvariantCulture, $" (base model {bb:0.####})") : "", string.Join("; ", failures));
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>
    /// The previous version's metrics for an adapter (looked up once), and the table of this build's metrics beside them.
    /// Null, with a message, when no earlier version exists (a first release has nothing to regress from).
    /// </summary>
    PreviousVersionMetrics.Found? Previous(string adapter, JsonElement eval, int line)
    {
        if (previous.TryGetValue(adapter, out var known)) return known;
        PreviousVersionMetrics.Found? found = null;
        var feeds = (PreviousVersionFeeds ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (feeds.Length == 0 || string.IsNullOrEmpty(PackageId) || string.IsNullOrEmpty(PackageVersion))
        {
            uncheckedRegressions.Add(adapter);
            Log.LogError(null, "LB0252", null, ProjectFile, line, 0, 0, 0,
                "LoraEvalGate '{0}': MaxRegressionFromPrevious needs LoraBuildPushFeed or LoraBuildCacheFeed (where earlier versions of the package are).", adapter);
        }
        else
        {
            try
            {
                found = PreviousVersionMetrics.Find(feeds, PackageId!, PackageVersion!, adapter);
                if (found is null)
                    BuildProgress.Line(BuildEngine, nameof(EvaluateLoraGates), $"  {adapter}: no version of {PackageId} below {PackageVersion} in {string.Join(", ", feeds)}: nothing to regress from.");
                else
                    foreach (var row in Table(adapter, eval, found)) BuildProgress.Line(BuildEngine, nameof(EvaluateLoraGates), row);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or JsonException or FatalProtocolException or ArgumentException)
            {
                uncheckedRegressions.Add(adapter);
                Log.LogError(null, "LB0252", null, ProjectFile, line, 0, 0, 0,
                    "LoraEvalGate '{0}': the previous version of {1} could not be read ({2}); the regression gate cannot be checked.", adapter, PackageId, e.Message);
            }
        }
        previous[adapter] = found;
        return found;
    }

    IEnumerable<string> Table(string adapter, JsonElement eval, PreviousVersionMetrics.Found earlier)
    {
        var inv = CultureInfo.InvariantCulture;
        var header = $"{PackageId} {earlier.Version}";
        yield return $"  {adapter}: {"metric",-15} {"this build",12} {header,24} {"change",10}";
        foreach (var metric in Metrics)
        {
            var now = Number(eval, metric);
            double? before = earlier.Eval.TryGetValue(metric, out var b) ? b : null;
            var change = now is { } n && before is { } p ? (n - p).ToString("+0.####;-0.####;0", inv) : "";
            yield return $"  {adapter}: {metric,-15} {now?.ToString("0.####", inv) ?? "n/a",12} {before?.ToString("0.####", inv) ?? "n/a",24} {change,10}";
        }
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
