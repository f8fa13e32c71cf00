namespace LoraBuild.Hub;

/// <summary>
/// A Hub problem the user can act on: a stable LB04xx code (ErrorCodes) and a message carrying the Hub's own words and
/// the fix. The Hub client depends on Contracts only, so the worker turns this into its usual error line.
/// </summary>
public sealed class HubException(string code, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Code { get; } = code;

    public override string ToString() => $"error {Code}: {Message}";
}
