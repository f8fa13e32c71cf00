namespace LoraBuild.Hub;

/// <summary>
/// A Hub or lock-file problem the user can act on: a stable LB04xx code (ErrorCodes) and a message carrying the Hub's
/// own words and the fix; <see cref="File"/> when a file (lora.lock.json) is at fault. In Contracts because the Hub
/// client, the worker and the tasks all raise or report it; the worker prints it as its usual error line.
/// </summary>
public sealed class HubException(string code, string message, Exception? inner = null, string? file = null) : Exception(message, inner)
{
    public string Code { get; } = code;
    public string? File { get; } = file;

    /// <summary>The canonical form MSBuild turns into a coded error: "file: error LBxxxx: message".</summary>
    public override string ToString() => (File is null ? "" : File + ": ") + $"error {Code}: {Message}";
}
