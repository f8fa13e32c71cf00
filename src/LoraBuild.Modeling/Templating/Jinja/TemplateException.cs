namespace LoraBuild.Templating.Jinja;

/// <summary>A template that does not parse, or fails while rendering; <see cref="Line"/> is the template's 1-based line.</summary>
public class TemplateException : Exception
{
    public TemplateException(string message, int line) : base(message) => Line = line;

    public int Line { get; }
}

/// <summary>A template that does not parse.</summary>
public sealed class TemplateSyntaxException(string message, int line) : TemplateException(message, line);

/// <summary>A template that failed while rendering (a type error, an undefined value used, a missing filter).</summary>
public sealed class TemplateRuntimeException(string message, int line) : TemplateException(message, line);

/// <summary>The template itself refused its input through <c>raise_exception(message)</c>.</summary>
public sealed class TemplateRaisedException(string message, int line) : TemplateException(message, line);
