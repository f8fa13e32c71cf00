using System.Text;

namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// Python's <c>str.format</c> with named fields, as Axolotl's prompters call it: <c>{name}</c> is replaced, <c>{{</c> and
/// <c>}}</c> are literal braces. A field the format names but is not given is an error (Python's KeyError).
/// </summary>
public static class PythonFormat
{
    public static string Apply(string format, params (string Name, string Value)[] fields)
    {
        var result = new StringBuilder(format.Length + 64);
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c == '{' && i + 1 < format.Length && format[i + 1] == '{') { result.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < format.Length && format[i + 1] == '}') { result.Append('}'); i++; continue; }
            if (c != '{') { result.Append(c); continue; }
            var end = format.IndexOf('}', i);
            if (end < 0) throw new FormatException($"unmatched '{{' at {i} in the format \"{format}\".");
            var name = format[(i + 1)..end];
            var found = fields.FirstOrDefault(f => f.Name == name);
            if (found.Name is null) throw new FormatException($"the format \"{format}\" names {{{name}}}, which is not one of {string.Join(", ", fields.Select(f => "{" + f.Name + "}"))}.");
            result.Append(found.Value);
            i = end;
        }
        return result.ToString();
    }
}
