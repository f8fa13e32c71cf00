using System.Text.Json.Serialization;

namespace LoraBuild.Events;

/// <summary>
/// One thing the worker reports while it works: a download's bytes, a training step, an evaluation, an export. The
/// worker writes it; the MSBuild tasks read it (never regexes over human text). <see cref="Message"/> is the line a
/// person reads; the numbers are for loggers and tools.
/// </summary>
public sealed record WorkerEvent
{
    /// <summary>What the worker is doing: one of <see cref="WorkerPhases"/>.</summary>
    [JsonPropertyName("phase")] public required string Phase { get; init; }

    /// <summary><see cref="WorkerEventKinds.Status"/> (transient: a live line) or <see cref="WorkerEventKinds.Result"/> (kept in the log).</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }

    /// <summary>The human text, as a console prints it.</summary>
    [JsonPropertyName("message")] public required string Message { get; init; }

    /// <summary>Work done so far, in <see cref="Unit"/>.</summary>
    [JsonPropertyName("current")] public long? Current { get; init; }

    /// <summary>All the work, in <see cref="Unit"/>, when known.</summary>
    [JsonPropertyName("total")] public long? Total { get; init; }

    /// <summary>steps, bytes, tensors, examples, tokens.</summary>
    [JsonPropertyName("unit")] public string? Unit { get; init; }

    /// <summary><see cref="Unit"/> per second.</summary>
    [JsonPropertyName("rate")] public double? Rate { get; init; }

    [JsonPropertyName("eta_s")] public double? EtaSeconds { get; init; }

    /// <summary>Named numbers of the moment: loss, learning_rate, exact_match, tokens_per_s.</summary>
    [JsonPropertyName("values")] public IReadOnlyDictionary<string, double>? Values { get; init; }
}

/// <summary>The phases a worker event can report, one name each.</summary>
public static class WorkerPhases
{
    public const string Download = "download";
    public const string Loading = "loading";
    public const string Data = "data";
    public const string Training = "training";
    public const string Evaluation = "evaluation";
    public const string Merge = "merge";
    public const string Export = "export";
    public const string Serve = "serve";
    public const string Note = "note";
}

public static class WorkerEventKinds
{
    public const string Status = "status";
    public const string Result = "result";
}
