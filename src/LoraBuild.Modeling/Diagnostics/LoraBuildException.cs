namespace LoraBuild.Diagnostics;

/// <summary>
/// An error the user can act on. <see cref="Code"/> is stable (LBxxxx) so build logs, docs and tests can refer to it;
/// <see cref="File"/> and <see cref="Line"/> point at the input that caused it when there is one.
/// </summary>
public sealed class LoraBuildException : Exception
{
    public LoraBuildException(string code, string message, string? file = null, int line = 0, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        File = file;
        Line = line;
    }

    public string Code { get; }
    public string? File { get; }
    public int Line { get; }

    /// <summary>The canonical one-line form, as MSBuild's canonical error format expects: file(line): error CODE: message.</summary>
    public override string ToString()
    {
        var location = File is null ? "" : Line > 0 ? $"{File}({Line}): " : $"{File}: ";
        return $"{location}error {Code}: {Message}";
    }
}
