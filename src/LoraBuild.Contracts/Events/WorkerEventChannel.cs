using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoraBuild.Events;

/// <summary>
/// The wire form of <see cref="WorkerEvent"/>: one line on the worker's standard output, <see cref="Prefix"/> then
/// the event as JSON. The worker writes events in this form when <see cref="EnvironmentVariable"/> is "1" (the tasks set
/// it); otherwise it prints <see cref="WorkerEvent.Message"/> alone, for a person at a terminal.
/// </summary>
public static class WorkerEventChannel
{
    public const string EnvironmentVariable = "LORABUILD_EVENTS";
    public const string Prefix = "##lorabuild:event ";

    static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static string Format(WorkerEvent workerEvent) => Prefix + JsonSerializer.Serialize(workerEvent, Options);

    /// <summary>Reads an event line; false for any other line (and for a damaged event, which is then shown as text).</summary>
    public static bool TryParse(string line, [NotNullWhen(true)] out WorkerEvent? workerEvent)
    {
        workerEvent = null;
        if (!line.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        try
        {
            workerEvent = JsonSerializer.Deserialize<WorkerEvent>(line.AsSpan(Prefix.Length), Options);
            return workerEvent is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static bool EnabledByEnvironment() => Environment.GetEnvironmentVariable(EnvironmentVariable) == "1";
}
