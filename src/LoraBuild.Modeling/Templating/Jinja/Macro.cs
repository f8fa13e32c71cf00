namespace LoraBuild.Templating.Jinja;

/// <summary>A <c>{% macro %}</c>: renders its body in a frame of its own, over the frame it was defined in.</summary>
public sealed class Macro(MacroStatement definition, Scope closure) : Callable
{
    public override string Name => definition.Name;

    public override object? Invoke(Interpreter interpreter, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line)
    {
        var frame = new Scope(closure);
        var parameters = definition.Parameters;
        if (positional.Count > parameters.Count)
            throw new TemplateRuntimeException($"macro '{Name}' takes at most {parameters.Count} arguments ({positional.Count} given).", line);
        foreach (var key in named.Keys)
            if (!parameters.Any(p => p.Name == key) && key != "caller")
                throw new TemplateRuntimeException($"macro '{Name}' has no parameter named '{key}'.", line);
        for (var i = 0; i < parameters.Count; i++)
        {
            var (name, defaultValue) = parameters[i];
            object? value = i < positional.Count ? positional[i]
                : named.TryGetValue(name, out var given) ? given
                : defaultValue is not null ? interpreter.Evaluate(defaultValue, frame)
                : new Undefined(name);
            frame.Set(name, value);
        }
        frame.Set("varargs", positional.Skip(parameters.Count).ToList());
        if (named.TryGetValue("caller", out var caller)) frame.Set("caller", caller);
        return interpreter.Capture(definition.Body, frame);
    }
}
