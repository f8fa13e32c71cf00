using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LoraBuild.Templating.Jinja;

/// <summary>jinja2's builtin filters that chat templates use, with transformers' tojson (ensure_ascii=False).</summary>
public static partial class Filters
{
    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    public static object? Apply(Interpreter interpreter, string name, object? value, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line)
    {
        var a = new CallArguments(name, positional, named, line);
        switch (name)
        {
            case "default" or "d":
                var fallback = a.Get(0, "default_value", "");
                if (a.Boolean(1, "boolean")) return Operators.Truthy(value) ? value : fallback;
                return value is Undefined ? fallback : value;
            case "safe" or "string" when value is string:
                return value;
            case "string":
                return PythonFormat.Str(value);
            case "safe":
                return value;
        }
        // jinja2's Undefined is an empty string to the string filters and an empty sequence to the others; numbers and
        // JSON need a value.
        if (value is Undefined undefined && name is "int" or "float" or "abs" or "round" or "tojson" or "items" or "dictsort" or "attr")
            throw new TemplateRuntimeException($"'{undefined.Name}' is undefined (passed to filter '{name}').", line);
        return name switch
        {
            "length" or "count" => Length(value, a),
            "trim" => Members.Strip(Text(value, a), a.String(0, "chars"), true, true),
            "upper" => Text(value, a).ToUpperInvariant(),
            "lower" => Text(value, a).ToLowerInvariant(),
            "capitalize" => Members.Capitalize(Text(value, a)),
            "title" => string.Concat(WordBeginning().Split(Text(value, a)).Where(w => w.Length > 0).Select(w => char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant())),
            "replace" => Replace(Text(value, a), a),
            "indent" => Indent(Text(value, a), a),
            "center" => Text(value, a) is var centered && (int)(a.Integer(0, "width", 80) ?? 80) is var width && width > centered.Length
                ? new string(' ', (width - centered.Length) / 2) + centered + new string(' ', width - centered.Length - (width - centered.Length) / 2) : Text(value, a),
            "wordcount" => (long)Members.Split(Text(value, a), null, -1).Count,
            "escape" or "e" => Escape(PythonFormat.Str(value)),
            "format" => Operators.Binary("%", Text(value, a), a.Count == 1 ? a.Positional[0] : a.Positional.ToList(), line),
            "join" => Join(interpreter, value, a),
            "first" => Interpreter.Iterate(value, null, line) is { Count: > 0 } firstItems ? firstItems[0] : new Undefined("first of an empty sequence"),
            "last" => Interpreter.Iterate(value, null, line) is { Count: > 0 } lastItems ? lastItems[^1] : new Undefined("last of an empty sequence"),
            "list" => Interpreter.Iterate(value, null, line).ToList(),
            "reverse" => value is string s ? string.Concat(s.EnumerateRunes().Reverse().Select(r => r.ToString())) : Enumerable.Reverse(Interpreter.Iterate(value, null, line)).ToList(),
            "unique" => Unique(Interpreter.Iterate(value, null, line), a),
            "sort" => Sort(value, a),
            "dictsort" => DictSort(value, a),
            "items" => value is OrderedDictionary<string, object?> itemsOf ? itemsOf.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList()
                : value is null ? new List<object?>() : throw a.Error($"expected a dict, not {Operators.TypeName(value)}"),
            "map" => Map(interpreter, value, a),
            "select" => Select(interpreter, value, a, keep: true, byAttribute: false),
            "reject" => Select(interpreter, value, a, keep: false, byAttribute: false),
            "selectattr" => Select(interpreter, value, a, keep: true, byAttribute: true),
            "rejectattr" => Select(interpreter, value, a, keep: false, byAttribute: true),
            "attr" => Members.Attribute(value, a.String(0, "name") ?? "", "value", line),
            "tojson" => ToJson(value, a),
            "int" => ToInt(value, a),
            "float" => ToFloat(value, a),
            "abs" => value switch { long l => (object)Math.Abs(l), double d => Math.Abs(d), bool b => b ? 1L : 0L, _ => throw a.Error($"bad operand type for abs(): '{Operators.TypeName(value)}'") },
            "round" => Round(value, a),
            "sum" => Sum(value, a),
            "min" => MinMax(value, a, -1),
            "max" => MinMax(value, a, 1),
            "batch" => Batch(value, a),
            _ => throw new TemplateRuntimeException($"no filter named '{name}'.", line),
        };
    }

    static string Text(object? value, CallArguments a) => value as string ?? PythonFormat.Str(value); // Undefined: ""

    static long Length(object? value, CallArguments a) => value switch
    {
        string s => s.EnumerateRunes().Count(),
        List<object?> list => list.Count,
        OrderedDictionary<string, object?> dict => dict.Count,
        Namespace ns => ns.Attributes.Count,
        Undefined => 0,
        _ => throw a.Error($"object of type '{Operators.TypeName(value)}' has no len()"),
    };

    static string Replace(string s, CallArguments a)
    {
        var old = a.String(0, "old") ?? throw a.Error("old must be a string");
        var replacement = a.String(1, "new") ?? "";
        var count = a.Integer(2, "count");
        if (count is null) return old.Length == 0 ? s : s.Replace(old, replacement, StringComparison.Ordinal);
        return Members.Replace(s, old, replacement, count.Value);
    }

    /// <summary>jinja2's indent: every line but the first (unless first=True) gets the indent; blank lines only with blank=True.</summary>
    static string Indent(string s, CallArguments a)
    {
        var widthArgument = a.Get(0, "width", 4L);
        var indentation = widthArgument is string text ? text : new string(' ', (int)(widthArgument is long w ? w : 4));
        var first = a.Boolean(1, "first");
        var blank = a.Boolean(2, "blank");
        var lines = SplitLines(s + "\n");
        string result;
        if (blank) result = string.Join("\n" + indentation, lines);
        else
        {
            result = lines[0];
            if (lines.Count > 1) result += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indentation + l : l));
        }
        return first ? indentation + result : result;
    }

    static List<string> SplitLines(string s)
    {
        var lines = s.Replace("\r\n", "\n").Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    static string Join(Interpreter interpreter, object? value, CallArguments a)
    {
        var separator = a.String(0, "d", "") ?? "";
        var attribute = a.String(1, "attribute");
        var items = Interpreter.Iterate(value, null, a.Line);
        return string.Join(separator, items.Select(item => PythonFormat.Str(attribute is null ? item : Path(item, attribute, a.Line))));
    }

    /// <summary>An attribute path like "function.name" or "0", as jinja2's attribute getters read it.</summary>
    static object? Path(object? item, string attribute, int line)
    {
        foreach (var part in attribute.Split('.'))
            item = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                ? Members.Item(item, index, "item", line)
                : Members.Item(item, part, "item", line);
        return item;
    }

    static List<object?> Unique(List<object?> items, CallArguments a)
    {
        var attribute = a.String(1, "attribute");
        var caseSensitive = a.Boolean(0, "case_sensitive");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in items)
        {
            var key = attribute is null ? item : Path(item, attribute, a.Line);
            if (!caseSensitive && key is string s) key = s.ToLowerInvariant();
            if (seen.Any(x => Operators.Equals(x, key))) continue;
            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    static List<object?> Sort(object? value, CallArguments a)
    {
        var reverse = a.Boolean(0, "reverse");
        var caseSensitive = a.Boolean(1, "case_sensitive");
        var attribute = a.String(2, "attribute");
        object? Key(object? item)
        {
            var key = attribute is null ? item : Path(item, attribute, a.Line);
            return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
        }
        var items = Interpreter.Iterate(value, null, a.Line).ToList();
        var sorted = items.Select((item, i) => (item, i)).ToList();
        sorted.Sort((x, y) =>
        {
            var c = Operators.Compare(Key(x.item), Key(y.item), a.Line);
            return c != 0 ? (reverse ? -c : c) : x.i.CompareTo(y.i);
        });
        return sorted.Select(p => p.item).ToList();
    }

    static List<object?> DictSort(object? value, CallArguments a)
    {
        if (value is not OrderedDictionary<string, object?> dict) throw a.Error($"expected a dict, not {Operators.TypeName(value)}");
        var caseSensitive = a.Boolean(0, "case_sensitive");
        var byValue = a.String(1, "by", "key") == "value";
        var reverse = a.Boolean(2, "reverse");
        var pairs = dict.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList();
        object? Key(object? pair)
        {
            var k = ((List<object?>)pair!)[byValue ? 1 : 0];
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }
        pairs.Sort((x, y) => Operators.Compare(Key(x), Key(y), a.Line) * (reverse ? -1 : 1));
        return pairs;
    }

    static List<object?> Map(Interpreter interpreter, object? value, CallArguments a)
    {
        var items = Interpreter.Iterate(value, null, a.Line);
        if (a.Named.TryGetValue("attribute", out var attribute))
        {
            var path = attribute as string ?? throw a.Error("attribute must be a string");
            return items.Select(item =>
            {
                var mapped = Path(item, path, a.Line);
                return mapped is Undefined && a.Named.TryGetValue("default", out var d) ? d : mapped;
            }).ToList();
        }
        var filter = a.String(0, "filter") ?? throw a.Error("needs a filter name or attribute=");
        var rest = a.Positional.Skip(1).ToList();
        return items.Select(item => Apply(interpreter, filter, item, rest, new Dictionary<string, object?>(), a.Line)).ToList();
    }

    static List<object?> Select(Interpreter interpreter, object? value, CallArguments a, bool keep, bool byAttribute)
    {
        var items = Interpreter.Iterate(value, null, a.Line);
        var offset = byAttribute ? 1 : 0;
        var attribute = byAttribute ? a.String(0, "attribute") ?? throw a.Error("needs an attribute name") : null;
        var test = a.Count > offset ? a.Positional[offset] as string : null;
        var rest = a.Positional.Skip(offset + 1).ToList();
        var none = new Dictionary<string, object?>();
        return items.Where(item =>
        {
            var subject = attribute is null ? item : Path(item, attribute, a.Line);
            var passed = test is null ? Operators.Truthy(subject) : Tests.Apply(test, subject, rest, none, a.Line);
            return passed == keep;
        }).ToList();
    }

    static string ToJson(object? value, CallArguments a)
    {
        var indent = a.Integer(0, "indent");
        (string, string)? separators = null;
        if (a.Get(1, "separators") is List<object?> { Count: 2 } pair && pair[0] is string item && pair[1] is string key) separators = (item, key);
        try
        {
            return PythonFormat.Json(value, indent is null ? null : (int)indent, separators, a.Boolean(2, "sort_keys"), a.Boolean(3, "ensure_ascii"));
        }
        catch (InvalidOperationException e)
        {
            throw a.Error(e.Message);
        }
    }

    static object? ToInt(object? value, CallArguments a)
    {
        var fallback = a.Get(0, "default", 0L);
        return value switch
        {
            long l => l,
            bool b => b ? 1L : 0L,
            double d => (long)Math.Truncate(d),
            string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsedFloat) => (long)Math.Truncate(parsedFloat),
            _ => fallback,
        };
    }

    static object? ToFloat(object? value, CallArguments a) => value switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => a.Get(0, "default", 0.0),
    };

    static double Round(object? value, CallArguments a)
    {
        var number = value switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => throw a.Error($"cannot round {Operators.TypeName(value)}") };
        var precision = (int)(a.Integer(0, "precision", 0) ?? 0);
        var method = a.String(1, "method", "common");
        var scale = Math.Pow(10, precision);
        return method switch
        {
            "ceil" => Math.Ceiling(number * scale) / scale,
            "floor" => Math.Floor(number * scale) / scale,
            _ => Math.Round(number, precision, MidpointRounding.AwayFromZero),
        };
    }

    static object? Sum(object? value, CallArguments a)
    {
        var attribute = a.String(0, "attribute");
        object? total = a.Get(1, "start", 0L);
        foreach (var item in Interpreter.Iterate(value, null, a.Line))
            total = Operators.Binary("+", total, attribute is null ? item : Path(item, attribute, a.Line), a.Line);
        return total;
    }

    static object? MinMax(object? value, CallArguments a, int sign)
    {
        var items = Interpreter.Iterate(value, null, a.Line);
        if (items.Count == 0) return new Undefined("min/max of an empty sequence");
        var caseSensitive = a.Boolean(0, "case_sensitive");
        var attribute = a.String(1, "attribute");
        object? Key(object? item)
        {
            var key = attribute is null ? item : Path(item, attribute, a.Line);
            return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
        }
        var best = items[0];
        foreach (var item in items.Skip(1))
            if (Operators.Compare(Key(item), Key(best), a.Line) * sign > 0) best = item;
        return best;
    }

    static List<object?> Batch(object? value, CallArguments a)
    {
        var size = (int)(a.Integer(0, "linecount") ?? throw a.Error("needs linecount"));
        var fill = a.Get(1, "fill_with");
        var items = Interpreter.Iterate(value, null, a.Line);
        var batches = new List<object?>();
        for (var i = 0; i < items.Count; i += size)
        {
            var batch = items.Skip(i).Take(size).ToList();
            if (a.Has(1, "fill_with")) while (batch.Count < size) batch.Add(fill);
            batches.Add(batch);
        }
        return batches;
    }
}
