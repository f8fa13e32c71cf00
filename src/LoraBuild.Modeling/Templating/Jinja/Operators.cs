using System.Globalization;

namespace LoraBuild.Templating.Jinja;

/// <summary>Python's semantics for truth, equality, ordering, arithmetic and membership, as jinja2 inherits them.</summary>
public static class Operators
{
    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        OrderedDictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        Namespace => "Namespace",
        LoopInfo => "LoopContext",
        Callable => "function",
        _ => value.GetType().Name,
    };

    static bool IsNumber(object? value) => value is long or double or bool;

    static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b)) return a is double || b is double ? ToDouble(a) == ToDouble(b) : ToLong(a) == ToLong(b);
        return (a, b) switch
        {
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equals(p.First, p.Second)),
            (OrderedDictionary<string, object?> x, OrderedDictionary<string, object?> y) =>
                x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var v) && Equals(p.Value, v)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Ordering for &lt; &gt; and sort: numbers with numbers, strings with strings, lists element-wise.</summary>
    public static int Compare(object? a, object? b, int line)
    {
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        switch (a, b)
        {
            case (string x, string y): return Math.Sign(string.CompareOrdinal(x, y));
            case (List<object?> x, List<object?> y):
                for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
                {
                    var c = Compare(x[i], y[i], line);
                    if (c != 0) return c;
                }
                return x.Count.CompareTo(y.Count);
        }
        throw new TemplateRuntimeException($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'.", line);
    }

    public static bool Contains(object? container, object? item, int line) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new TemplateRuntimeException($"'in <string>' requires string as left operand, not {TypeName(item)}.", line),
        List<object?> list => list.Any(x => Equals(x, item)),
        OrderedDictionary<string, object?> dict => item is string key && dict.ContainsKey(key),
        Namespace ns => item is string key && ns.Attributes.ContainsKey(key),
        Undefined => false, // jinja2's Undefined iterates as empty
        _ => throw new TemplateRuntimeException($"argument of type '{TypeName(container)}' is not iterable.", line),
    };

    public static object? Binary(string op, object? a, object? b, int line)
    {
        TemplateRuntimeException Unsupported() =>
            new($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'.", line);
        if (a is Undefined ua && op != "~") throw new TemplateRuntimeException($"'{ua.Name}' is undefined.", line);
        if (b is Undefined ub && op != "~") throw new TemplateRuntimeException($"'{ub.Name}' is undefined.", line);
        switch (op)
        {
            case "~":
                return PythonFormat.Str(a) + PythonFormat.Str(b);
            case "+":
                if (a is string sa && b is string sb) return sa + sb;
                if (a is List<object?> la && b is List<object?> lb) return la.Concat(lb).ToList();
                break;
            case "*":
                if (a is string rs && b is long rn) return string.Concat(Enumerable.Repeat(rs, (int)Math.Max(0, rn)));
                if (a is long ln && b is string rs2) return string.Concat(Enumerable.Repeat(rs2, (int)Math.Max(0, ln)));
                if (a is List<object?> rl && b is long rc) return Enumerable.Range(0, (int)Math.Max(0, rc)).SelectMany(_ => rl).ToList();
                break;
            case "%" when a is string format:
                return PercentFormat(format, b, line);
        }
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported();
        var floating = a is double || b is double;
        switch (op)
        {
            case "+": return floating ? ToDouble(a) + ToDouble(b) : (object)checked(ToLong(a) + ToLong(b));
            case "-": return floating ? ToDouble(a) - ToDouble(b) : (object)checked(ToLong(a) - ToLong(b));
            case "*": return floating ? ToDouble(a) * ToDouble(b) : (object)checked(ToLong(a) * ToLong(b));
            case "/":
                if (ToDouble(b) == 0) throw new TemplateRuntimeException("division by zero.", line);
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (ToDouble(b) == 0) throw new TemplateRuntimeException("integer division or modulo by zero.", line);
                return floating ? Math.Floor(ToDouble(a) / ToDouble(b)) : (object)FloorDivide(ToLong(a), ToLong(b));
            case "%":
                if (ToDouble(b) == 0) throw new TemplateRuntimeException("integer division or modulo by zero.", line);
                if (floating)
                {
                    var x = ToDouble(a);
                    var y = ToDouble(b);
                    var r = x % y;
                    return r != 0 && (r < 0) != (y < 0) ? r + y : r;
                }
                return ToLong(a) - ToLong(b) * FloorDivide(ToLong(a), ToLong(b));
            case "**":
                if (!floating && ToLong(b) >= 0) return (long)Math.Pow(ToLong(a), ToLong(b));
                return Math.Pow(ToDouble(a), ToDouble(b));
        }
        throw Unsupported();
    }

    static long FloorDivide(long a, long b)
    {
        var q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    /// <summary>printf-style <c>"%s" % value</c> for %s, %d and %%.</summary>
    static string PercentFormat(string format, object? arguments, int line)
    {
        var values = arguments is List<object?> list ? list : [arguments];
        var builder = new System.Text.StringBuilder();
        var next = 0;
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }
            var spec = format[++i];
            if (spec == '%') { builder.Append('%'); continue; }
            if (next >= values.Count) throw new TemplateRuntimeException("not enough arguments for format string.", line);
            var value = values[next++];
            builder.Append(spec switch
            {
                's' => PythonFormat.Str(value),
                'r' => PythonFormat.Repr(value),
                'd' or 'i' => value is double d ? ((long)d).ToString(CultureInfo.InvariantCulture) : PythonFormat.Str(value),
                _ => throw new TemplateRuntimeException($"format '%{spec}' is not supported.", line),
            });
        }
        return builder.ToString();
    }
}
