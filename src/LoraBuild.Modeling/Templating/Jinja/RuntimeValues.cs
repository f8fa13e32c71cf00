namespace LoraBuild.Templating.Jinja;

// Runtime values are plain .NET objects: null is Python's None, bool, long, double, string, List<object?> (lists and
// tuples), OrderedDictionary<string, object?> (dicts), and the types below.

/// <summary>An undefined value (a missing variable, key or attribute): prints as nothing, is falsy, iterates as empty.</summary>
public sealed class Undefined
{
    public Undefined(string name) => Name = name;

    public string Name { get; }

    public override string ToString() => "";
}

/// <summary><c>namespace(...)</c>: the one mutable object a template may assign attributes on, across loop scopes.</summary>
public sealed class Namespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>Anything a template can call: a macro, a global function, a bound method.</summary>
public abstract class Callable
{
    public abstract string Name { get; }

    public abstract object? Invoke(Interpreter interpreter, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line);
}

/// <summary>A callable backed by a .NET delegate.</summary>
public sealed class BuiltinFunction(string name, Func<Interpreter, IReadOnlyList<object?>, IReadOnlyDictionary<string, object?>, int, object?> body) : Callable
{
    public override string Name => name;

    public override object? Invoke(Interpreter interpreter, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line) =>
        body(interpreter, positional, named, line);
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
public sealed class LoopInfo(IReadOnlyList<object?> items, int position)
{
    public object? Attribute(string name) => name switch
    {
        "index" => (long)position + 1,
        "index0" => (long)position,
        "revindex" => (long)(items.Count - position),
        "revindex0" => (long)(items.Count - position - 1),
        "first" => position == 0,
        "last" => position == items.Count - 1,
        "length" => (long)items.Count,
        "previtem" => position > 0 ? items[position - 1] : new Undefined("loop.previtem"),
        "nextitem" => position < items.Count - 1 ? items[position + 1] : new Undefined("loop.nextitem"),
        "depth" => 1L,
        "depth0" => 0L,
        "cycle" => new BuiltinFunction("loop.cycle", (_, args, _, line) => args.Count == 0
            ? throw new TemplateRuntimeException("loop.cycle() needs at least one value.", line)
            : args[position % args.Count]),
        _ => new Undefined($"loop.{name}"),
    };
}
