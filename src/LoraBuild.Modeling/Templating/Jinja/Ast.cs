namespace LoraBuild.Templating.Jinja;

/// <summary>Template syntax tree. Every node keeps the template line it starts on, for error messages.</summary>
public abstract record Node(int Line);

public abstract record Expression(int Line) : Node(Line);

public sealed record Literal(object? Value, int Line) : Expression(Line);
public sealed record NameExpression(string Name, int Line) : Expression(Line);
public sealed record ListExpression(IReadOnlyList<Expression> Items, bool IsTuple, int Line) : Expression(Line);
public sealed record DictExpression(IReadOnlyList<(Expression Key, Expression Value)> Items, int Line) : Expression(Line);
public sealed record AttributeExpression(Expression Target, string Name, int Line) : Expression(Line);
public sealed record SubscriptExpression(Expression Target, Expression Index, int Line) : Expression(Line);
public sealed record SliceExpression(Expression? Start, Expression? Stop, Expression? Step, int Line) : Expression(Line);
public sealed record Arguments(IReadOnlyList<Expression> Positional, IReadOnlyList<(string Name, Expression Value)> Named)
{
    public static readonly Arguments None = new([], []);
}
public sealed record CallExpression(Expression Callee, Arguments Arguments, int Line) : Expression(Line);
public sealed record FilterExpression(Expression? Target, string Name, Arguments Arguments, int Line) : Expression(Line);
public sealed record TestExpression(Expression Target, string Name, Arguments Arguments, bool Negated, int Line) : Expression(Line);
public sealed record UnaryExpression(string Operator, Expression Operand, int Line) : Expression(Line);
public sealed record BinaryExpression(string Operator, Expression Left, Expression Right, int Line) : Expression(Line);
public sealed record CompareExpression(Expression First, IReadOnlyList<(string Operator, Expression Operand)> Rest, int Line) : Expression(Line);
public sealed record ConditionalExpression(Expression Test, Expression Then, Expression? Else, int Line) : Expression(Line);

public abstract record Statement(int Line) : Node(Line);

public sealed record TextStatement(string Text, int Line) : Statement(Line);
public sealed record OutputStatement(Expression Value, int Line) : Statement(Line);
public sealed record IfStatement(IReadOnlyList<(Expression Test, IReadOnlyList<Statement> Body)> Branches, IReadOnlyList<Statement> Else, int Line) : Statement(Line);
public sealed record ForStatement(IReadOnlyList<string> Targets, Expression Iterable, Expression? Filter, IReadOnlyList<Statement> Body,
    IReadOnlyList<Statement> Else, int Line) : Statement(Line);
/// <summary><c>{% set a = x %}</c>, <c>{% set a, b = x %}</c> or <c>{% set ns.attr = x %}</c> (Namespace is then "ns").</summary>
public sealed record SetStatement(string? Namespace, IReadOnlyList<string> Targets, Expression Value, int Line) : Statement(Line);
public sealed record SetBlockStatement(string Target, IReadOnlyList<FilterExpression> Filters, IReadOnlyList<Statement> Body, int Line) : Statement(Line);
public sealed record MacroStatement(string Name, IReadOnlyList<(string Name, Expression? Default)> Parameters, IReadOnlyList<Statement> Body, int Line) : Statement(Line);
public sealed record CallBlockStatement(CallExpression Call, IReadOnlyList<(string Name, Expression? Default)> Parameters, IReadOnlyList<Statement> Body, int Line) : Statement(Line);
public sealed record FilterBlockStatement(IReadOnlyList<FilterExpression> Filters, IReadOnlyList<Statement> Body, int Line) : Statement(Line);
/// <summary>transformers' <c>{% generation %}</c>: its output is the assistant's, the tokens a chat trains on.</summary>
public sealed record GenerationStatement(IReadOnlyList<Statement> Body, int Line) : Statement(Line);
public sealed record BreakStatement(int Line) : Statement(Line);
public sealed record ContinueStatement(int Line) : Statement(Line);
public sealed record DoStatement(Expression Value, int Line) : Statement(Line);
