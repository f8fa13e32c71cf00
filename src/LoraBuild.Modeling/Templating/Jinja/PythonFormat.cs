using System.Globalization;
using System.Text;

namespace LoraBuild.Templating.Jinja;

/// <summary>How Python prints values: <c>str()</c> for output, <c>repr()</c> inside containers, <c>json.dumps</c> for tojson.</summary>
public static class PythonFormat
{
    public static string Str(object? value) => value switch
    {
        null => "None",
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    public static string Repr(object? value) => value switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Float(d),
        string s => ReprString(s),
        List<object?> list => "[" + string.Join(", ", list.Select(Repr)) + "]",
        OrderedDictionary<string, object?> dict => "{" + string.Join(", ", dict.Select(p => ReprString(p.Key) + ": " + Repr(p.Value))) + "}",
        Namespace ns => "<Namespace " + Repr(ns.Attributes) + ">",
        Callable c => $"<function {c.Name}>",
        _ => value.ToString() ?? "",
    };

    /// <summary>Python's float repr: the shortest round-trip digits, always with a '.0' or an exponent.</summary>
    public static string Float(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var shortest = d.ToString("R", CultureInfo.InvariantCulture);
        var abs = Math.Abs(d);
        if (abs != 0 && (abs >= 1e16 || abs < 1e-4))
        {
            // Python's exponent form: 1e+16, 1.5e-05.
            var parts = d.ToString("E16", CultureInfo.InvariantCulture).Split('E');
            var mantissa = shortest.Split('E')[0];
            var exponent = int.Parse(parts[1], CultureInfo.InvariantCulture);
            if (shortest.Contains('E')) exponent = int.Parse(shortest.Split('E')[1], CultureInfo.InvariantCulture);
            else mantissa = (double.Parse(shortest, CultureInfo.InvariantCulture) / Math.Pow(10, exponent)).ToString("R", CultureInfo.InvariantCulture);
            return mantissa + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
        }
        if (shortest.Contains('E')) shortest = d.ToString("F1", CultureInfo.InvariantCulture);
        return shortest.Contains('.') ? shortest : shortest + ".0";
    }

    static string ReprString(string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var builder = new StringBuilder().Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': builder.Append(@"\\"); break;
                case '\n': builder.Append(@"\n"); break;
                case '\r': builder.Append(@"\r"); break;
                case '\t': builder.Append(@"\t"); break;
                default:
                    if (c == quote) builder.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else builder.Append(c);
                    break;
            }
        }
        return builder.Append(quote).ToString();
    }

    /// <summary>
    /// transformers' tojson: <c>json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)</c>,
    /// with Python's default separators (", ", ": ") or (",", ": ") when indenting.
    /// </summary>
    public static string Json(object? value, int? indent = null, (string Item, string Key)? separators = null, bool sortKeys = false, bool ensureAscii = false)
    {
        var (item, key) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        var builder = new StringBuilder();
        WriteJson(builder, value, indent, item, key, sortKeys, ensureAscii, 0);
        return builder.ToString();
    }

    static void WriteJson(StringBuilder b, object? value, int? indent, string item, string key, bool sortKeys, bool ensureAscii, int depth)
    {
        void NewLine(int level)
        {
            if (indent is null) return;
            b.Append('\n').Append(' ', indent.Value * level);
        }

        switch (value)
        {
            case null: b.Append("null"); break;
            case Undefined undefined: throw new InvalidOperationException($"'{undefined.Name}' is undefined and not JSON serializable");
            case bool v: b.Append(v ? "true" : "false"); break;
            case long l: b.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                b.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Float(d));
                break;
            case string s: JsonString(b, s, ensureAscii); break;
            case List<object?> list:
                if (list.Count == 0) { b.Append("[]"); break; }
                b.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) b.Append(item);
                    NewLine(depth + 1);
                    WriteJson(b, list[i], indent, item, key, sortKeys, ensureAscii, depth + 1);
                }
                NewLine(depth);
                b.Append(']');
                break;
            case OrderedDictionary<string, object?> or Namespace:
                var dict = value as OrderedDictionary<string, object?> ?? ((Namespace)value).Attributes;
                if (dict.Count == 0) { b.Append("{}"); break; }
                IEnumerable<KeyValuePair<string, object?>> pairs = sortKeys ? dict.OrderBy(p => p.Key, StringComparer.Ordinal) : dict;
                b.Append('{');
                var first = true;
                foreach (var (k, v) in pairs)
                {
                    if (!first) b.Append(item);
                    first = false;
                    NewLine(depth + 1);
                    JsonString(b, k, ensureAscii);
                    b.Append(key);
                    WriteJson(b, v, indent, item, key, sortKeys, ensureAscii, depth + 1);
                }
                NewLine(depth);
                b.Append('}');
                break;
            default:
                throw new InvalidOperationException($"Object of type {value.GetType().Name} is not JSON serializable");
        }
    }

    static void JsonString(StringBuilder b, string s, bool ensureAscii)
    {
        b.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append(@"\\"); break;
                case '\n': b.Append(@"\n"); break;
                case '\r': b.Append(@"\r"); break;
                case '\t': b.Append(@"\t"); break;
                case '\b': b.Append(@"\b"); break;
                case '\f': b.Append(@"\f"); break;
                default:
                    if (c < 0x20 || ensureAscii && c > 0x7e) b.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else b.Append(c);
                    break;
            }
        }
        b.Append('"');
    }
}
