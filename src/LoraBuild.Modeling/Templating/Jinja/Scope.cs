namespace LoraBuild.Templating.Jinja;

/// <summary>
/// Variables of one template frame. As in jinja2, a for-loop body and a macro call get their own frame: a
/// <c>{% set %}</c> inside them does not change the outer variable (templates use <c>namespace()</c> for that).
/// </summary>
public sealed class Scope(Scope? parent)
{
    readonly Dictionary<string, object?> variables = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope.variables.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public Scope? Parent => parent;

    public void Set(string name, object? value) => variables[name] = value;
}
