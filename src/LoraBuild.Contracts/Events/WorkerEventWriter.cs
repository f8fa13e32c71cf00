namespace LoraBuild.Events;

/// <summary>
/// Where the worker reports what it does: event lines for the tasks, or plain text for a person. One writer per
/// process (<see cref="Console"/>); libraries take an <see cref="Action{WorkerEvent}"/> and stay unaware of the wire.
/// </summary>
public sealed class WorkerEventWriter(TextWriter output, bool structured)
{
    readonly Lock gate = new();

    /// <summary>The process's writer: standard output, structured when the tasks asked for it.</summary>
    public static WorkerEventWriter Console { get; } = new(System.Console.Out, WorkerEventChannel.EnabledByEnvironment());

    public bool Structured => structured;

    public void Write(WorkerEvent workerEvent)
    {
        var line = structured ? WorkerEventChannel.Format(workerEvent) : workerEvent.Message;
        lock (gate) output.WriteLine(line);
    }

    public void Status(string phase, string message) =>
        Write(new WorkerEvent { Phase = phase, Kind = WorkerEventKinds.Status, Message = message });

    public void Result(string phase, string message) =>
        Write(new WorkerEvent { Phase = phase, Kind = WorkerEventKinds.Result, Message = message });

    /// <summary>Progress through a known amount of work (a download's bytes, a run's steps).</summary>
    public void Progress(string phase, string message, long current, long? total, string unit, double? rate = null, double? etaSeconds = null,
        IReadOnlyDictionary<string, double>? values = null) =>
        Write(new WorkerEvent
        {
            Phase = phase, Kind = WorkerEventKinds.Status, Message = message, Current = current, Total = total, Unit = unit,
            Rate = rate, EtaSeconds = etaSeconds, Values = values,
        });
}
