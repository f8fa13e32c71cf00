namespace LoraBuild.Templating.Jinja;

/// <summary>Reads a builtin's arguments the way Python binds them: by position, else by name, else a default.</summary>
public readonly struct CallArguments(string function, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line)
{
    public int Line => line;
    public int Count => positional.Count;
    public IReadOnlyList<object?> Positional => positional;
    public IReadOnlyDictionary<string, object?> Named => named;

    public bool Has(int index, string name) => index < positional.Count || named.ContainsKey(name);

    public object? Get(int index, string name, object? defaultValue = null) =>
        index < positional.Count ? positional[index] : named.TryGetValue(name, out var value) ? value : defaultValue;

    public object? Required(int index, string name) => Has(index, name)
        ? Get(index, name)
        : throw new TemplateRuntimeException($"{function}() missing required argument '{name}'.", line);

    public string? String(int index, string name, string? defaultValue = null) => Get(index, name, defaultValue) switch
    {
        null => null,
        string s => s,
        Undefined => defaultValue,
        var other => throw Error($"argument '{name}' must be a string, not {Operators.TypeName(other)}"),
    };

    public long? Integer(int index, string name, long? defaultValue = null) => Get(index, name, defaultValue) switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        Undefined => defaultValue,
        var other => throw Error($"argument '{name}' must be an integer, not {Operators.TypeName(other)}"),
    };

    public bool Boolean(int index, string name, bool defaultValue = false) => Get(index, name, defaultValue) switch
    {
        Undefined => defaultValue,
        var other => Operators.Truthy(other),
    };

    public TemplateRuntimeException Error(string message) => new($"{function}(): {message}.", line);
}
