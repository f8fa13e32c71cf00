using System.Globalization;

namespace LoraBuild.Templating.Jinja;

/// <summary>
/// Recursive-descent parser for the Jinja subset chat templates use, with jinja2's operator precedence:
/// conditional &lt; or &lt; and &lt; not &lt; comparisons and <c>in</c> &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary,
/// and filters, tests, attributes, subscripts and calls binding tightest.
/// </summary>
public sealed class Parser
{
    static readonly HashSet<string> CompareOperators = ["==", "!=", "<", ">", "<=", ">="];
    static readonly HashSet<string> TestArgumentStoppers = ["else", "or", "and", "if", "is", "in", "not"];

    readonly IReadOnlyList<Token> tokens;
    int index;

    Parser(IReadOnlyList<Token> tokens) => this.tokens = tokens;

    public static IReadOnlyList<Statement> Parse(IReadOnlyList<Token> tokens)
    {
        var parser = new Parser(tokens);
        var body = parser.ParseBody([], null);
        return body;
    }

    Token Current => tokens[index];
    Token Peek(int ahead = 1) => tokens[Math.Min(index + ahead, tokens.Count - 1)];
    Token Next() => tokens[index++];

    static TemplateSyntaxException Error(string message, Token at) => new(message, at.Line);

    Token Expect(TokenKind kind, string? value = null, string? what = null)
    {
        var token = Current;
        if (token.Kind != kind || value is not null && token.Value != value)
            throw Error($"expected {what ?? (value is null ? kind.ToString() : $"'{value}'")}, found {token}.", token);
        index++;
        return token;
    }

    bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        index++;
        return true;
    }

    bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        index++;
        return true;
    }

    bool AtBlockTag(IReadOnlyCollection<string> names) =>
        Current.Kind == TokenKind.BlockStart && Peek().Kind == TokenKind.Name && names.Contains(Peek().Value);

    /// <summary>Statements until a block tag named in <paramref name="ends"/> (not consumed) or the end of the template.</summary>
    IReadOnlyList<Statement> ParseBody(IReadOnlyCollection<string> ends, Token? opener)
    {
        var body = new List<Statement>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    if (opener is not null)
                        throw Error($"'{{% {opener.Value} %}}' opened on line {opener.Line} is never closed (expected {string.Join(" or ", ends.Select(e => $"'{{% {e} %}}'"))} before the end of the template).", opener);
                    return body;
                case TokenKind.Text:
                    body.Add(new TextStatement(token.Value, token.Line));
                    index++;
                    break;
                case TokenKind.VariableStart:
                    index++;
                    var value = ParseTuple();
                    Expect(TokenKind.VariableEnd, what: "'}}'");
                    body.Add(new OutputStatement(value, token.Line));
                    break;
                case TokenKind.BlockStart:
                    if (AtBlockTag(ends)) return body;
                    index++;
                    body.Add(ParseStatement(token));
                    break;
                default:
                    throw Error($"unexpected {token}.", token);
            }
        }
    }

    Statement ParseStatement(Token start)
    {
        var keyword = Current;
        if (keyword.Kind != TokenKind.Name) throw Error($"expected a tag name after '{{%', found {keyword}.", keyword);
        index++;
        switch (keyword.Value)
        {
            case "if": return ParseIf(keyword);
            case "for": return ParseFor(keyword);
            case "set": return ParseSet(keyword);
            case "macro": return ParseMacro(keyword);
            case "call": return ParseCallBlock(keyword);
            case "filter": return ParseFilterBlock(keyword);
            case "generation":
                Expect(TokenKind.BlockEnd, what: "'%}'");
                var generated = ParseBody(["endgeneration"], keyword);
                EndTag("endgeneration");
                return new GenerationStatement(generated, keyword.Line);
            case "break":
                Expect(TokenKind.BlockEnd, what: "'%}'");
                return new BreakStatement(keyword.Line);
            case "continue":
                Expect(TokenKind.BlockEnd, what: "'%}'");
                return new ContinueStatement(keyword.Line);
            case "do":
                var expression = ParseTuple();
                Expect(TokenKind.BlockEnd, what: "'%}'");
                return new DoStatement(expression, keyword.Line);
            default:
                throw Error(keyword.Value.StartsWith("end", StringComparison.Ordinal) || keyword.Value is "else" or "elif"
                    ? $"unexpected '{{% {keyword.Value} %}}' with no block open that it closes."
                    : $"unknown tag '{keyword.Value}'.", keyword);
        }
    }

    void EndTag(string name)
    {
        Expect(TokenKind.BlockStart);
        Expect(TokenKind.Name, name);
        Expect(TokenKind.BlockEnd, what: "'%}'");
    }

    IfStatement ParseIf(Token keyword)
    {
        var branches = new List<(Expression, IReadOnlyList<Statement>)>();
        IReadOnlyList<Statement> otherwise = [];
        var test = ParseExpression(allowConditional: false);
        Expect(TokenKind.BlockEnd, what: "'%}'");
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"], keyword);
            branches.Add((test, body));
            Expect(TokenKind.BlockStart);
            var tag = Next();
            if (tag.Value == "elif")
            {
                test = ParseExpression(allowConditional: false);
                Expect(TokenKind.BlockEnd, what: "'%}'");
                continue;
            }
            Expect(TokenKind.BlockEnd, what: "'%}'");
            if (tag.Value == "else")
            {
                otherwise = ParseBody(["endif"], keyword);
                EndTag("endif");
            }
            return new IfStatement(branches, otherwise, keyword.Line);
        }
    }

    ForStatement ParseFor(Token keyword)
    {
        var targets = ParseTargetNames();
        Expect(TokenKind.Name, "in");
        var iterable = ParseTuple(allowConditional: false);
        Expression? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        if (Current.IsName("recursive")) throw Error("recursive for loops are not supported.", Current);
        Expect(TokenKind.BlockEnd, what: "'%}'");
        var body = ParseBody(["else", "endfor"], keyword);
        IReadOnlyList<Statement> otherwise = [];
        Expect(TokenKind.BlockStart);
        if (Next().Value == "else")
        {
            Expect(TokenKind.BlockEnd, what: "'%}'");
            otherwise = ParseBody(["endfor"], keyword);
            EndTag("endfor");
        }
        else Expect(TokenKind.BlockEnd, what: "'%}'");
        return new ForStatement(targets, iterable, filter, body, otherwise, keyword.Line);
    }

    List<string> ParseTargetNames()
    {
        var parenthesised = SkipOperator("(");
        var names = new List<string> { Expect(TokenKind.Name, what: "a variable name").Value };
        while (SkipOperator(","))
        {
            if (Current.Kind != TokenKind.Name) break;
            names.Add(Next().Value);
        }
        if (parenthesised) Expect(TokenKind.Operator, ")");
        return names;
    }

    Statement ParseSet(Token keyword)
    {
        string? ns = null;
        List<string> targets;
        if (Current.Kind == TokenKind.Name && Peek().IsOperator("."))
        {
            ns = Next().Value;
            index++;
            targets = [Expect(TokenKind.Name, what: "an attribute name").Value];
        }
        else targets = ParseTargetNames();
        if (SkipOperator("="))
        {
            var value = ParseTuple();
            Expect(TokenKind.BlockEnd, what: "'%}'");
            return new SetStatement(ns, targets, value, keyword.Line);
        }
        if (ns is not null || targets.Count != 1) throw Error("expected '=' in '{% set %}'.", Current);
        var filters = new List<FilterExpression>();
        while (SkipOperator("|")) filters.Add(ParseFilter(null));
        Expect(TokenKind.BlockEnd, what: "'=' or '%}'");
        var body = ParseBody(["endset"], keyword);
        EndTag("endset");
        return new SetBlockStatement(targets[0], filters, body, keyword.Line);
    }

    List<(string, Expression?)> ParseParameters()
    {
        var parameters = new List<(string, Expression?)>();
        Expect(TokenKind.Operator, "(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(")")) break;
            var name = Expect(TokenKind.Name, what: "a parameter name").Value;
            parameters.Add((name, SkipOperator("=") ? ParseExpression() : null));
        }
        return parameters;
    }

    MacroStatement ParseMacro(Token keyword)
    {
        var name = Expect(TokenKind.Name, what: "a macro name").Value;
        var parameters = ParseParameters();
        Expect(TokenKind.BlockEnd, what: "'%}'");
        var body = ParseBody(["endmacro"], keyword);
        EndTag("endmacro");
        return new MacroStatement(name, parameters, body, keyword.Line);
    }

    CallBlockStatement ParseCallBlock(Token keyword)
    {
        var parameters = Current.IsOperator("(") ? ParseParameters() : [];
        var call = ParseExpression() as CallExpression ?? throw Error("'{% call %}' needs a macro call.", keyword);
        Expect(TokenKind.BlockEnd, what: "'%}'");
        var body = ParseBody(["endcall"], keyword);
        EndTag("endcall");
        return new CallBlockStatement(call, parameters, body, keyword.Line);
    }

    FilterBlockStatement ParseFilterBlock(Token keyword)
    {
        var filters = new List<FilterExpression> { ParseFilter(null) };
        while (SkipOperator("|")) filters.Add(ParseFilter(null));
        Expect(TokenKind.BlockEnd, what: "'%}'");
        var body = ParseBody(["endfilter"], keyword);
        EndTag("endfilter");
        return new FilterBlockStatement(filters, body, keyword.Line);
    }

    /// <summary>An expression, or a tuple of them separated by commas (as in <c>{% set a = 1, 2 %}</c>).</summary>
    Expression ParseTuple(bool allowConditional = true)
    {
        var line = Current.Line;
        var first = ParseExpression(allowConditional);
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expression> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")")) break;
            items.Add(ParseExpression(allowConditional));
        }
        return new ListExpression(items, true, line);
    }

    Expression ParseExpression(bool allowConditional = true)
    {
        var expression = ParseOr();
        if (!allowConditional) return expression;
        while (Current.IsName("if"))
        {
            var line = Next().Line;
            var test = ParseOr();
            Expression? otherwise = SkipName("else") ? ParseExpression() : null;
            expression = new ConditionalExpression(test, expression, otherwise, line);
        }
        return expression;
    }

    Expression ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var line = Next().Line;
            left = new BinaryExpression("or", left, ParseAnd(), line);
        }
        return left;
    }

    Expression ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var line = Next().Line;
            left = new BinaryExpression("and", left, ParseNot(), line);
        }
        return left;
    }

    Expression ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        var line = Next().Line;
        return new UnaryExpression("not", ParseNot(), line);
    }

    Expression ParseCompare()
    {
        var line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expression)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Value))
                rest.Add((Next().Value, ParseMath1()));
            else if (SkipName("in"))
                rest.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                index += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpression(first, rest, line);
    }

    Expression ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpression(op.Value, left, ParseConcat(), op.Line);
        }
        return left;
    }

    Expression ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            var op = Next();
            left = new BinaryExpression("~", left, ParseMath2(), op.Line);
        }
        return left;
    }

    Expression ParseMath2()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpression(op.Value, left, ParsePower(), op.Line);
        }
        return left;
    }

    Expression ParsePower()
    {
        var left = ParseUnary();
        while (Current.IsOperator("**"))
        {
            var op = Next();
            left = new BinaryExpression("**", left, ParseUnary(), op.Line);
        }
        return left;
    }

    Expression ParseUnary(bool withFilters = true)
    {
        Expression node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            node = new UnaryExpression(op.Value, ParseUnary(false), op.Line);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilters ? ParseFiltersAndTests(node) : node;
    }

    Expression ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new Literal(true, token.Line),
                    "false" or "False" => new Literal(false, token.Line),
                    "none" or "None" => new Literal(null, token.Line),
                    _ => new NameExpression(token.Value, token.Line),
                };
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value;
                return new Literal(text, token.Line);
            case TokenKind.Integer:
                return new Literal(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Float:
                return new Literal(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Operator when token.Value == "(":
                if (SkipOperator(")")) return new ListExpression([], true, token.Line);
                var inner = ParseExpression();
                if (Current.IsOperator(","))
                {
                    var items = new List<Expression> { inner };
                    while (SkipOperator(",") && !Current.IsOperator(")")) items.Add(ParseExpression());
                    inner = new ListExpression(items, true, token.Line);
                }
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                var list = new List<Expression>();
                while (!SkipOperator("]"))
                {
                    if (list.Count > 0) Expect(TokenKind.Operator, ",", "',' or ']'");
                    if (SkipOperator("]")) break;
                    list.Add(ParseExpression());
                }
                return new ListExpression(list, false, token.Line);
            case TokenKind.Operator when token.Value == "{":
                var pairs = new List<(Expression, Expression)>();
                while (!SkipOperator("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",", "',' or '}'");
                    if (SkipOperator("}")) break;
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression()));
                }
                return new DictExpression(pairs, token.Line);
            default:
                throw Error($"unexpected {token}, expected an expression.", token);
        }
    }

    Expression ParsePostfix(Expression node)
    {
        while (true)
        {
            if (Current.IsOperator("."))
            {
                var dot = Next();
                var name = Next();
                node = name.Kind switch
                {
                    TokenKind.Name => new AttributeExpression(node, name.Value, dot.Line),
                    TokenKind.Integer => new SubscriptExpression(node, new Literal(long.Parse(name.Value, CultureInfo.InvariantCulture), name.Line), dot.Line),
                    _ => throw Error($"expected an attribute name after '.', found {name}.", name),
                };
            }
            else if (Current.IsOperator("[")) node = ParseSubscript(node);
            else if (Current.IsOperator("(")) node = new CallExpression(node, ParseArguments(), Current.Line);
            else return node;
        }
    }

    Expression ParseSubscript(Expression target)
    {
        var open = Next();
        Expression? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (SkipOperator("]")) return new SubscriptExpression(target, start, open.Line);
        }
        Expect(TokenKind.Operator, ":", "':' or ']'");
        Expression? stop = Current.IsOperator("]") || Current.IsOperator(":") ? null : ParseExpression();
        Expression? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]")) step = ParseExpression();
        Expect(TokenKind.Operator, "]");
        return new SubscriptExpression(target, new SliceExpression(start, stop, step, open.Line), open.Line);
    }

    Arguments ParseArguments()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expression>();
        var named = new List<(string, Expression)>();
        while (!SkipOperator(")"))
        {
            if (positional.Count + named.Count > 0) Expect(TokenKind.Operator, ",", "',' or ')'");
            if (SkipOperator(")")) break;
            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                var name = Next().Value;
                index++;
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw Error("a positional argument follows a keyword argument.", Current);
                positional.Add(ParseExpression());
            }
        }
        return new Arguments(positional, named);
    }

    Expression ParseFiltersAndTests(Expression node)
    {
        while (true)
        {
            if (SkipOperator("|")) node = ParseFilter(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = new CallExpression(node, ParseArguments(), Current.Line);
            else return node;
        }
    }

    FilterExpression ParseFilter(Expression? target)
    {
        var name = Expect(TokenKind.Name, what: "a filter name");
        var arguments = Current.IsOperator("(") ? ParseArguments() : Arguments.None;
        return new FilterExpression(target, name.Value, arguments, name.Line);
    }

    Expression ParseTest(Expression target)
    {
        var keyword = Next();
        var negated = SkipName("not");
        var name = Next();
        if (name.Kind != TokenKind.Name && !name.IsOperator("==") && !name.IsOperator("!="))
            throw Error($"expected a test name after 'is', found {name}.", name);
        var testName = name.Value switch { "none" or "None" => "none", "true" or "True" => "true", "false" or "False" => "false", _ => name.Value };
        Arguments arguments;
        if (Current.IsOperator("(")) arguments = ParseArguments();
        else if (Current.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                 || Current.Kind == TokenKind.Name && !TestArgumentStoppers.Contains(Current.Value)
                 || Current.IsOperator("[") || Current.IsOperator("{"))
            arguments = new Arguments([ParsePostfix(ParsePrimary())], []);
        else arguments = Arguments.None;
        return new TestExpression(target, testName, arguments, negated, keyword.Line);
    }
}
