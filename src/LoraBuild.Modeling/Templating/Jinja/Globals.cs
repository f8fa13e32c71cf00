using System.Globalization;
using System.Text;

namespace LoraBuild.Templating.Jinja;

/// <summary>
/// The functions a chat template can call: jinja2's range, namespace, dict, cycler-free subset, and transformers'
/// raise_exception and strftime_now.
/// </summary>
public static class Globals
{
    /// <summary>The clock strftime_now reads; a test may pin it.</summary>
    public static Func<DateTime> Now { get; set; } = () => DateTime.Now;

    public static void Install(Scope scope)
    {
        scope.Set("range", new BuiltinFunction("range", (_, positional, _, line) => Range(positional, line)));
        scope.Set("namespace", new BuiltinFunction("namespace", (_, positional, named, line) =>
        {
            var ns = new Namespace();
            foreach (var initial in positional)
            {
                if (initial is not OrderedDictionary<string, object?> dict) throw new TemplateRuntimeException("namespace() takes a dict or keyword arguments.", line);
                foreach (var (k, v) in dict) ns.Attributes[k] = v;
            }
            foreach (var (k, v) in named) ns.Attributes[k] = v;
            return ns;
        }));
        scope.Set("dict", new BuiltinFunction("dict", (_, positional, named, _) =>
        {
            var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
            foreach (var initial in positional.OfType<OrderedDictionary<string, object?>>())
                foreach (var (k, v) in initial) dict[k] = v;
            foreach (var (k, v) in named) dict[k] = v;
            return dict;
        }));
        scope.Set("raise_exception", new BuiltinFunction("raise_exception", (_, positional, _, line) =>
            throw new TemplateRaisedException(PythonFormat.Str(positional.Count > 0 ? positional[0] : ""), line)));
        scope.Set("strftime_now", new BuiltinFunction("strftime_now", (_, positional, _, line) =>
            Strftime(positional.Count > 0 && positional[0] is string format ? format : throw new TemplateRuntimeException("strftime_now() needs a format string.", line), Now())));
    }

    static List<object?> Range(IReadOnlyList<object?> positional, int line)
    {
        var numbers = positional.Select(p => p is long l ? l : throw new TemplateRuntimeException($"range() needs integers, not {Operators.TypeName(p)}.", line)).ToList();
        var (start, stop, step) = numbers.Count switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw new TemplateRuntimeException("range() takes 1 to 3 arguments.", line),
        };
        if (step == 0) throw new TemplateRuntimeException("range() step must not be zero.", line);
        var result = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            result.Add(i);
            if (result.Count > 1_000_000) throw new TemplateRuntimeException("range() is too large.", line);
        }
        return result;
    }

    /// <summary>Python's time.strftime for the directives chat templates use (%d %b %Y and friends; glibc's %-d too).</summary>
    public static string Strftime(string format, DateTime time)
    {
        var c = CultureInfo.InvariantCulture;
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }
            var noPad = format[i + 1] == '-' && i + 2 < format.Length;
            var directive = format[noPad ? i + 2 : i + 1];
            i += noPad ? 2 : 1;
            string Pad(int value, int width) => noPad ? value.ToString(c) : value.ToString(new string('0', width), c);
            builder.Append(directive switch
            {
                'd' => Pad(time.Day, 2),
                'm' => Pad(time.Month, 2),
                'Y' => time.Year.ToString(c),
                'y' => Pad(time.Year % 100, 2),
                'H' => Pad(time.Hour, 2),
                'I' => Pad(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Pad(time.Minute, 2),
                'S' => Pad(time.Second, 2),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => time.ToString("MMM", c),
                'B' => time.ToString("MMMM", c),
                'a' => time.ToString("ddd", c),
                'A' => time.ToString("dddd", c),
                'j' => Pad(time.DayOfYear, 3),
                'e' => time.Day.ToString(c).PadLeft(2),
                'w' => ((int)time.DayOfWeek).ToString(c),
                'Z' => "",
                '%' => "%",
                _ => "%" + directive,
            });
        }
        return builder.ToString();
    }
}
