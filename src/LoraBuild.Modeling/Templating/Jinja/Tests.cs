namespace LoraBuild.Templating.Jinja;

/// <summary>jinja2's tests (<c>x is defined</c>, <c>x is string</c>, <c>n is divisibleby 3</c>, ...).</summary>
public static class Tests
{
    public static bool Apply(string name, object? value, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line)
    {
        var a = new CallArguments(name, positional, named, line);
        object? Other() => a.Required(0, "other");
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double or bool,
            "string" => value is string,
            "mapping" => value is OrderedDictionary<string, object?>,
            "iterable" => value is string or List<object?> or OrderedDictionary<string, object?> or Undefined,
            "sequence" => value is string or List<object?> or OrderedDictionary<string, object?>,
            "callable" => value is Callable,
            "sameas" => ReferenceEquals(value, Other()) || value is null && Other() is null || value is bool b && Other() is bool o && b == o,
            "eq" or "equalto" or "==" => Operators.Equals(value, Other()),
            "ne" or "!=" => !Operators.Equals(value, Other()),
            "lt" or "lessthan" or "<" => Operators.Compare(value, Other(), line) < 0,
            "le" or "<=" => Operators.Compare(value, Other(), line) <= 0,
            "gt" or "greaterthan" or ">" => Operators.Compare(value, Other(), line) > 0,
            "ge" or ">=" => Operators.Compare(value, Other(), line) >= 0,
            "in" => Operators.Contains(a.Required(0, "seq"), value, line),
            "even" => Integer(value, name, line) % 2 == 0,
            "odd" => Integer(value, name, line) % 2 != 0,
            "divisibleby" => Integer(value, name, line) % (a.Integer(0, "num") ?? 1) == 0,
            "lower" => value is string s && s == s.ToLowerInvariant(),
            "upper" => value is string u && u == u.ToUpperInvariant(),
            _ => throw new TemplateRuntimeException($"no test named '{name}'.", line),
        };
    }

    static long Integer(object? value, string test, int line) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeException($"test '{test}' needs an integer, not {Operators.TypeName(value)}.", line),
    };
}
