namespace LoraBuild.Diagnostics;

/// <summary>
/// An error the user can act on. <see cref="Code"/> is stable (LBxxxx) so build logs, docs and tests can refer to it;
/// <see cref="File"/> and <see cref="Line"/> point at the input that caused it when there is one.
/// </summary>
public sealed class LoraBuildException : Exception
{
    public LoraBuildException(string code, string message, string? file = null, int line = 0, Exception? inner = null, int column = 0)
        : base(message, inner)
    {
        Code = code;
        File = file;
        Line = line;
        Column = column;
        Errors = [this];
    }

    LoraBuildException(IReadOnlyList<LoraBuildException> errors)
        : base(string.Join("\n", errors.Select(e => e.Message)))
    {
        var first = errors[0];
        (Code, File, Line, Column, Errors) = (first.Code, first.File, first.Line, first.Column, errors);
    }

    /// <summary>Every problem found (an input file reports all of its problems at once); this one alone otherwise.</summary>
    public static LoraBuildException All(IReadOnlyList<LoraBuildException> errors) =>
        errors.Count == 1 ? errors[0] : new LoraBuildException(errors.SelectMany(e => e.Errors).ToList());

    public string Code { get; }
    public string? File { get; }
    public int Line { get; }
    public int Column { get; }
    public IReadOnlyList<LoraBuildException> Errors { get; }

    /// <summary>The canonical one-line form, as MSBuild's canonical error format expects: file(line): error CODE: message.</summary>
    public override string ToString()
    {
        if (Errors.Count > 1) return string.Join(Environment.NewLine, Errors.Select(e => e.ToString()));
        var location = File is null ? "" : Line > 0 ? Column > 0 ? $"{File}({Line},{Column}): " : $"{File}({Line}): " : $"{File}: ";
        return $"{location}error {Code}: {Message}";
    }
}
