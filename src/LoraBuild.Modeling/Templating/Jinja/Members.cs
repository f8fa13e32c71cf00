using System.Globalization;
using System.Text;

namespace LoraBuild.Templating.Jinja;

/// <summary>
/// Attribute and item access with jinja2's rules (<c>a.b</c> tries the attribute, then the item; <c>a['b']</c> the item,
/// then the attribute), slicing, and the methods of str, dict and list that templates call. As transformers' immutable
/// sandbox, methods that mutate a list or dict are refused.
/// </summary>
public static class Members
{
    static readonly HashSet<string> MutatingMethods = ["append", "extend", "insert", "pop", "remove", "clear", "update", "sort", "reverse", "setdefault", "popitem", "add", "discard"];

    public static object? Attribute(object? target, string name, string targetName, int line)
    {
        switch (target)
        {
            case Undefined undefined:
                throw new TemplateRuntimeException($"'{undefined.Name}' is undefined (reading its attribute '{name}').", line);
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var value) ? value : new Undefined($"{targetName}.{name}");
            case LoopInfo loop:
                return loop.Attribute(name);
            case OrderedDictionary<string, object?> dict:
                if (Method(target, name, line) is { } dictMethod) return dictMethod;
                return dict.TryGetValue(name, out var item) ? item : new Undefined($"{targetName}.{name}");
        }
        return (object?)Method(target, name, line) ?? new Undefined($"{targetName}.{name}");
    }

    public static object? Item(object? target, object? key, string targetName, int line)
    {
        switch (target)
        {
            case Undefined undefined:
                throw new TemplateRuntimeException($"'{undefined.Name}' is undefined (reading its item {PythonFormat.Repr(key)}).", line);
            case OrderedDictionary<string, object?> dict:
                if (key is string k && dict.TryGetValue(k, out var value)) return value;
                return key is string attribute && Method(target, attribute, line) is { } method ? method : new Undefined($"{targetName}[{PythonFormat.Repr(key)}]");
            case Namespace ns when key is string nsKey:
                return ns.Attributes.TryGetValue(nsKey, out var nsValue) ? nsValue : new Undefined($"{targetName}[{PythonFormat.Repr(key)}]");
            case LoopInfo loop when key is string loopKey:
                return loop.Attribute(loopKey);
            case List<object?> or string when key is long or bool:
                var index = key is bool b ? (b ? 1 : 0) : (long)key;
                if (target is List<object?> list)
                {
                    if (index < 0) index += list.Count;
                    return index >= 0 && index < list.Count ? list[(int)index] : new Undefined($"{targetName}[{key}]");
                }
                var codepoints = Codepoints((string)target);
                if (index < 0) index += codepoints.Count;
                return index >= 0 && index < codepoints.Count ? codepoints[(int)index] : new Undefined($"{targetName}[{key}]");
            case not null when key is string name:
                return (object?)Method(target, name, line) ?? new Undefined($"{targetName}[{PythonFormat.Repr(key)}]");
        }
        return new Undefined($"{targetName}[{PythonFormat.Repr(key)}]");
    }

    static List<string> Codepoints(string s) => s.EnumerateRunes().Select(r => r.ToString()).ToList();

    public static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        long? Bound(object? value, string what) => value switch
        {
            null or Undefined => null,
            long l => l,
            _ => throw new TemplateRuntimeException($"slice {what} must be an integer or none, not {Operators.TypeName(value)}.", line),
        };
        var items = target switch
        {
            List<object?> list => list,
            string s => Codepoints(s).Cast<object?>().ToList(),
            Undefined u => throw new TemplateRuntimeException($"'{u.Name}' is undefined (slicing it).", line),
            _ => throw new TemplateRuntimeException($"'{Operators.TypeName(target)}' object is not subscriptable.", line),
        };
        var stride = Bound(step, "step") ?? 1;
        if (stride == 0) throw new TemplateRuntimeException("slice step cannot be zero.", line);
        var count = (long)items.Count;
        long Clamp(long? value, long whenMissing, long low, long high)
        {
            if (value is not { } v) return whenMissing;
            if (v < 0) v += count;
            return Math.Clamp(v, low, high);
        }
        var result = new List<object?>();
        if (stride > 0)
        {
            var from = Clamp(Bound(start, "start"), 0, 0, count);
            var to = Clamp(Bound(stop, "stop"), count, 0, count);
            for (var i = from; i < to; i += stride) result.Add(items[(int)i]);
        }
        else
        {
            var from = Clamp(Bound(start, "start"), count - 1, -1, count - 1);
            var to = Clamp(Bound(stop, "stop"), -1, -1, count - 1);
            for (var i = from; i > to; i += stride) result.Add(items[(int)i]);
        }
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    /// <summary>A bound method of a str, dict or list, or null when the type has no such method.</summary>
    static Callable? Method(object? target, string name, int line)
    {
        if (target is List<object?> or OrderedDictionary<string, object?> && MutatingMethods.Contains(name))
            return new BuiltinFunction(name, (_, _, _, callLine) => throw new TemplateRuntimeException(
                $"access to attribute '{name}' of '{Operators.TypeName(target)}' object is unsafe (templates render in an immutable sandbox).", callLine));
        return target switch
        {
            string s => StringMethod(s, name),
            OrderedDictionary<string, object?> dict => DictMethod(dict, name),
            List<object?> list => ListMethod(list, name),
            _ => null,
        };
    }

    static BuiltinFunction? Bound(string name, Func<CallArguments, object?> body) =>
        new(name, (_, positional, named, line) => body(new CallArguments(name, positional, named, line)));

    static BuiltinFunction? DictMethod(OrderedDictionary<string, object?> dict, string name) => name switch
    {
        "items" => Bound(name, _ => dict.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList()),
        "keys" => Bound(name, _ => dict.Keys.Select(k => (object?)k).ToList()),
        "values" => Bound(name, _ => dict.Values.ToList()),
        "get" => Bound(name, a => a.Required(0, "key") is string key && dict.TryGetValue(key, out var v) ? v : a.Get(1, "default")),
        "copy" => Bound(name, _ => new OrderedDictionary<string, object?>(dict, StringComparer.Ordinal)),
        _ => null,
    };

    static BuiltinFunction? ListMethod(List<object?> list, string name) => name switch
    {
        "index" => Bound(name, a =>
        {
            var item = a.Required(0, "value");
            var i = list.FindIndex(x => Operators.Equals(x, item));
            return i >= 0 ? (long)i : throw a.Error($"{PythonFormat.Repr(item)} is not in list");
        }),
        "count" => Bound(name, a => (long)list.Count(x => Operators.Equals(x, a.Required(0, "value")))),
        "copy" => Bound(name, _ => list.ToList()),
        _ => null,
    };

    static BuiltinFunction? StringMethod(string s, string name) => name switch
    {
        "strip" => Bound(name, a => Strip(s, a.String(0, "chars"), true, true)),
        "lstrip" => Bound(name, a => Strip(s, a.String(0, "chars"), true, false)),
        "rstrip" => Bound(name, a => Strip(s, a.String(0, "chars"), false, true)),
        "split" => Bound(name, a => Split(s, a.String(0, "sep"), a.Integer(1, "maxsplit", -1) ?? -1)),
        "rsplit" => Bound(name, a => RSplit(s, a.String(0, "sep"), a.Integer(1, "maxsplit", -1) ?? -1)),
        "splitlines" => Bound(name, a => SplitLines(s, a.Boolean(0, "keepends"))),
        "startswith" => Bound(name, a => Affixes(a.Required(0, "prefix"), a).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Bound(name, a => Affixes(a.Required(0, "suffix"), a).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
        "replace" => Bound(name, a => Replace(s, a.String(0, "old") ?? throw a.Error("old must be a string"), a.String(1, "new") ?? throw a.Error("new must be a string"), a.Integer(2, "count", -1) ?? -1)),
        "upper" => Bound(name, _ => s.ToUpperInvariant()),
        "lower" => Bound(name, _ => s.ToLowerInvariant()),
        "title" => Bound(name, _ => Title(s)),
        "capitalize" => Bound(name, _ => Capitalize(s)),
        "swapcase" => Bound(name, _ => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)))),
        "find" => Bound(name, a => (long)s.IndexOf(a.String(0, "sub") ?? "", StringComparison.Ordinal)),
        "rfind" => Bound(name, a => (long)s.LastIndexOf(a.String(0, "sub") ?? "", StringComparison.Ordinal)),
        "index" => Bound(name, a => s.IndexOf(a.String(0, "sub") ?? "", StringComparison.Ordinal) is var i and >= 0 ? (long)i : throw a.Error("substring not found")),
        "count" => Bound(name, a => (long)CountOccurrences(s, a.String(0, "sub") ?? "")),
        "join" => Bound(name, a => string.Join(s, Interpreter.Iterate(a.Required(0, "iterable"), null, a.Line).Select(x => x as string ?? throw a.Error($"sequence item must be str, not {Operators.TypeName(x)}")))),
        "format" => Bound(name, a => Format(s, a)),
        "isdigit" => Bound(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isnumeric" => Bound(name, _ => s.Length > 0 && s.All(char.IsNumber)),
        "isalpha" => Bound(name, _ => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => Bound(name, _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => Bound(name, _ => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "isupper" => Bound(name, _ => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => Bound(name, _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        "zfill" => Bound(name, a => s.PadLeft((int)(a.Integer(0, "width") ?? 0), '0')),
        "center" => Bound(name, a => Center(s, (int)(a.Integer(0, "width") ?? 0), a.String(1, "fillchar", " ")!)),
        "ljust" => Bound(name, a => s.PadRight((int)(a.Integer(0, "width") ?? 0), (a.String(1, "fillchar", " ") ?? " ")[0])),
        "rjust" => Bound(name, a => s.PadLeft((int)(a.Integer(0, "width") ?? 0), (a.String(1, "fillchar", " ") ?? " ")[0])),
        "removeprefix" => Bound(name, a => a.String(0, "prefix") is { Length: > 0 } p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s),
        "removesuffix" => Bound(name, a => a.String(0, "suffix") is { Length: > 0 } p && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s),
        _ => null,
    };

    static IEnumerable<string> Affixes(object? value, CallArguments a) => value switch
    {
        string one => [one],
        List<object?> many => many.Select(x => x as string ?? throw a.Error("tuple items must be strings")),
        _ => throw a.Error($"expected a string or a tuple of strings, not {Operators.TypeName(value)}"),
    };

    /// <summary>Python's whitespace (str.isspace), which .NET's char.IsWhiteSpace also counts, plus \x1c-\x1f.</summary>
    static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars is null ? IsPythonSpace : chars.Contains;
        var start = 0;
        var end = s.Length;
        if (left) while (start < end && strip(s[start])) start++;
        if (right) while (end > start && strip(s[end - 1])) end--;
        return s[start..end];
    }

    public static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            var i = 0;
            while (true)
            {
                while (i < s.Length && IsPythonSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(Strip(s[i..], null, false, true));
                    break;
                }
                var start = i;
                while (i < s.Length && !IsPythonSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator.Length == 0) throw new TemplateRuntimeException("split(): empty separator.", 0);
        var from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + separator.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    static List<object?> RSplit(string s, string? separator, long maxSplit)
    {
        if (maxSplit < 0 || separator is null) return Split(s, separator, maxSplit);
        var parts = new List<object?>();
        var end = s.Length;
        while (parts.Count < maxSplit)
        {
            var at = end == 0 ? -1 : s.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + separator.Length > end) break;
            parts.Insert(0, s[(at + separator.Length)..end]);
            end = at;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    static List<object?> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<object?>();
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            var breakLength = s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? 2 : 1;
            lines.Add(keepEnds ? s[start..(i + breakLength)] : s[start..i]);
            i += breakLength - 1;
            start = i + 1;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>Python's str.replace with a count (the replace filter with a count shares it).</summary>
    internal static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Join(replacement, ["", .. s.Select(c => c.ToString()), ""]) : s.Replace(old, replacement, StringComparison.Ordinal);
        var builder = new StringBuilder();
        var from = 0;
        for (var done = 0; done < count; done++)
        {
            var at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0) break;
            builder.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return builder.Append(s, from, s.Length - from).ToString();
    }

    static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        var count = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>Python's str.title(): a letter after a non-letter is upper-cased, other letters lower-cased.</summary>
    public static string Title(string s)
    {
        var builder = new StringBuilder(s.Length);
        var previousIsLetter = false;
        foreach (var c in s)
        {
            builder.Append(char.IsLetter(c) ? previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c) : c);
            previousIsLetter = char.IsLetter(c);
        }
        return builder.ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    static string Center(string s, int width, string fill)
    {
        if (width <= s.Length) return s;
        var total = width - s.Length;
        // Python puts the extra character on the left when the string's length is odd... and on the right otherwise.
        var left = total / 2 + (total & width & 1);
        return new string(fill[0], left) + s + new string(fill[0], total - left);
    }

    /// <summary>str.format with {} / {0} / {name} fields (no format specs beyond the plain value).</summary>
    static string Format(string s, CallArguments a)
    {
        var builder = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{') { builder.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') { builder.Append('}'); i++; continue; }
            if (c != '{') { builder.Append(c); continue; }
            var close = s.IndexOf('}', i);
            if (close < 0) throw a.Error("single '{' encountered in format string");
            var field = s[(i + 1)..close].Split(':')[0];
            object? value = field.Length == 0 ? a.Positional.ElementAtOrDefault(auto++)
                : int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? a.Positional.ElementAtOrDefault(n)
                : a.Named.GetValueOrDefault(field);
            builder.Append(PythonFormat.Str(value));
            i = close;
        }
        return builder.ToString();
    }
}
