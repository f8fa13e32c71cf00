using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LoraBuild.Templating.Jinja;

/// <summary>
/// Splits a template into text and tag tokens, applying Jinja's whitespace control as jinja2 does: <c>-</c> modifiers strip
/// whitespace beside a tag, <c>trim_blocks</c> drops the first newline after a block or comment tag, <c>lstrip_blocks</c>
/// drops spaces and tabs between a line start and a block or comment tag, and one trailing newline of the source is dropped
/// (keep_trailing_newline=False). transformers renders chat templates with trim_blocks and lstrip_blocks on.
/// </summary>
public sealed class Lexer
{
    static readonly string[] Operators = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "=", "<", ">"];
    static readonly Regex EndRaw = new(@"\{%([-+]?)\s*endraw\s*([-+]?)%\}", RegexOptions.Compiled);

    readonly string source;
    readonly bool trimBlocks;
    readonly bool lstripBlocks;
    readonly List<Token> tokens = [];
    int position;
    int line = 1;

    Lexer(string source, bool trimBlocks, bool lstripBlocks)
    {
        // jinja2 reads every line ending as "\n" (newline_sequence), then drops one trailing newline.
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        this.source = source;
        this.trimBlocks = trimBlocks;
        this.lstripBlocks = lstripBlocks;
    }

    public static IReadOnlyList<Token> Tokenize(string source, bool trimBlocks = true, bool lstripBlocks = true)
    {
        var lexer = new Lexer(source, trimBlocks, lstripBlocks);
        lexer.Run();
        return lexer.tokens;
    }

    void Run()
    {
        var stripNextText = false;
        var trimNextNewline = false;
        while (position <= source.Length)
        {
            var open = NextTagOpening(position);
            var textEnd = open < 0 ? source.Length : open;
            var text = source[position..textEnd];
            var textLine = line;
            if (stripNextText) text = text.TrimStart();
            else if (trimNextNewline && text.StartsWith('\n')) text = text[1..];
            if (open >= 0)
            {
                var kind = source[open + 1];
                var modifier = open + 2 < source.Length ? source[open + 2] : '\0';
                if (modifier == '-') text = text.TrimEnd();
                else if (lstripBlocks && kind != '{' && modifier != '+') text = StripIndentBeforeTag(text, open);
            }
            Emit(TokenKind.Text, text, textLine);
            Advance(textEnd);
            if (open < 0) break;
            (stripNextText, trimNextNewline) = LexTag(open);
        }
        tokens.Add(new Token(TokenKind.End, "", line));
    }

    void Emit(TokenKind kind, string text, int tokenLine)
    {
        if (kind == TokenKind.Text && text.Length == 0) return;
        tokens.Add(new Token(kind, text, tokenLine));
    }

    /// <summary>Moves to <paramref name="to"/>, counting the newlines passed.</summary>
    void Advance(int to)
    {
        for (var i = position; i < to; i++)
            if (source[i] == '\n') line++;
        position = to;
    }

    int NextTagOpening(int from)
    {
        for (var i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
            if (source[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>lstrip_blocks: spaces and tabs between the start of a line and a block tag go.</summary>
    string StripIndentBeforeTag(string text, int tagStart)
    {
        var k = tagStart;
        while (k > position && source[k - 1] is ' ' or '\t') k--;
        var lineStart = k == 0 || source[k - 1] == '\n';
        if (!lineStart) return text;
        var indent = tagStart - k;
        return indent <= text.Length ? text[..^indent] : text;
    }

    /// <summary>Lexes the tag at <paramref name="open"/>; returns the whitespace control it asks of the text after it.</summary>
    (bool StripNext, bool TrimNewline) LexTag(int open)
    {
        var kind = source[open + 1];
        var startLine = line;
        var bodyStart = open + 2;
        if (bodyStart < source.Length && source[bodyStart] is '-' or '+') bodyStart++;
        if (kind == '#')
        {
            var close = source.IndexOf("#}", bodyStart, StringComparison.Ordinal);
            if (close < 0) throw new TemplateSyntaxException("comment '{#' is never closed with '#}'.", startLine);
            var strip = close > bodyStart && source[close - 1] == '-';
            Advance(close + 2);
            return (strip, trimBlocks && !strip);
        }

        tokens.Add(new Token(kind == '{' ? TokenKind.VariableStart : TokenKind.BlockStart, kind == '{' ? "{{" : "{%", startLine));
        Advance(bodyStart);
        var closer = kind == '{' ? "}}" : "%}";
        var braces = 0;
        while (true)
        {
            while (position < source.Length && char.IsWhiteSpace(source[position])) Advance(position + 1);
            if (position >= source.Length)
                throw new TemplateSyntaxException($"tag opened with '{{{kind}' is never closed with '{closer}'.", startLine);
            var c = source[position];
            if (c is '-' or '+' && Follows(position + 1, closer) || braces == 0 && Follows(position, closer) || kind == '%' && Follows(position, closer))
            {
                var modifier = c is '-' or '+' ? c : '\0';
                var end = position + (modifier == '\0' ? 0 : 1) + 2;
                tokens.Add(new Token(kind == '{' ? TokenKind.VariableEnd : TokenKind.BlockEnd, closer, line));
                Advance(end);
                if (kind == '%' && IsRawBlockStart()) return LexRawBody();
                return (modifier == '-', kind == '%' && trimBlocks && modifier != '+' && modifier != '-');
            }
            if (char.IsLetter(c) || c == '_') LexName();
            else if (char.IsAsciiDigit(c)) LexNumber();
            else if (c is '\'' or '"') LexString(c);
            else
            {
                var op = Operators.FirstOrDefault(o => Follows(position, o))
                    ?? throw new TemplateSyntaxException($"unexpected character '{c}'.", line);
                if (op == "{") braces++;
                if (op == "}") braces--;
                tokens.Add(new Token(TokenKind.Operator, op, line));
                Advance(position + op.Length);
            }
        }
    }

    bool Follows(int at, string text) => string.CompareOrdinal(source, at, text, 0, text.Length) == 0;

    bool IsRawBlockStart() =>
        tokens.Count >= 3 && tokens[^3].Kind == TokenKind.BlockStart && tokens[^2].IsName("raw") && tokens[^1].Kind == TokenKind.BlockEnd;

    /// <summary>{% raw %}: everything up to {% endraw %} is text.</summary>
    (bool, bool) LexRawBody()
    {
        var rawLine = tokens[^3].Line;
        tokens.RemoveRange(tokens.Count - 3, 3);
        var match = EndRaw.Match(source, position);
        if (!match.Success) throw new TemplateSyntaxException("'{% raw %}' is never closed with '{% endraw %}'.", rawLine);
        var text = source[position..match.Index];
        if (match.Groups[1].Value == "-") text = text.TrimEnd();
        Emit(TokenKind.Text, text, line);
        Advance(match.Index + match.Length);
        var modifier = match.Groups[2].Value;
        return (modifier == "-", trimBlocks && modifier == "");
    }

    void LexName()
    {
        var start = position;
        var end = position;
        while (end < source.Length && (char.IsLetterOrDigit(source[end]) || source[end] == '_')) end++;
        tokens.Add(new Token(TokenKind.Name, source[start..end], line));
        Advance(end);
    }

    void LexNumber()
    {
        var end = position;
        while (end < source.Length && (char.IsAsciiDigit(source[end]) || source[end] == '_')) end++;
        var isFloat = false;
        if (end + 1 < source.Length && source[end] == '.' && char.IsAsciiDigit(source[end + 1]))
        {
            isFloat = true;
            end++;
            while (end < source.Length && (char.IsAsciiDigit(source[end]) || source[end] == '_')) end++;
        }
        if (end < source.Length && source[end] is 'e' or 'E')
        {
            var exponent = end + 1;
            if (exponent < source.Length && source[exponent] is '+' or '-') exponent++;
            if (exponent < source.Length && char.IsAsciiDigit(source[exponent]))
            {
                isFloat = true;
                end = exponent;
                while (end < source.Length && char.IsAsciiDigit(source[end])) end++;
            }
        }
        tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, source[position..end].Replace("_", ""), line));
        Advance(end);
    }

    /// <summary>A Python string literal: backslash escapes as Python reads them; an unknown escape keeps its backslash.</summary>
    void LexString(char quote)
    {
        var startLine = line;
        var value = new StringBuilder();
        var i = position + 1;
        while (true)
        {
            if (i >= source.Length) throw new TemplateSyntaxException("string literal is never closed.", startLine);
            var c = source[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= source.Length)
            {
                value.Append(c);
                i++;
                continue;
            }
            var e = source[i + 1];
            i += 2;
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case 'a': value.Append('\a'); break;
                case '0': value.Append('\0'); break;
                case '\n': break;
                case 'x' or 'u' or 'U':
                    var length = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + length > source.Length || !int.TryParse(source.AsSpan(i, length), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
                        throw new TemplateSyntaxException($"invalid escape '\\{e}' in a string literal.", line);
                    value.Append(char.ConvertFromUtf32(code));
                    i += length;
                    break;
                default: value.Append('\\').Append(e); break;
            }
        }
        tokens.Add(new Token(TokenKind.String, value.ToString(), startLine));
        Advance(i + 1);
    }
}
