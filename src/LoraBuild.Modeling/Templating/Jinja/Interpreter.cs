using System.Text;

namespace LoraBuild.Templating.Jinja;

/// <summary>A character range [Start, End) of rendered text.</summary>
public readonly record struct TextSpan(int Start, int End)
{
    public int Length => End - Start;
}

/// <summary>Rendered text and the spans that <c>{% generation %}</c> blocks produced.</summary>
public sealed record RenderResult(string Text, IReadOnlyList<TextSpan> GenerationSpans);

/// <summary>Walks the syntax tree: executes statements into the output, evaluates expressions with Python semantics.</summary>
public sealed class Interpreter
{
    enum Flow { Normal, Break, Continue }

    StringBuilder output = new();
    int captureDepth;
    readonly List<TextSpan> generationSpans = [];

    Interpreter() { }

    public static RenderResult Render(IReadOnlyList<Statement> program, IReadOnlyDictionary<string, object?> variables)
    {
        var interpreter = new Interpreter();
        var globals = new Scope(null);
        Globals.Install(globals);
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, value);
        if (interpreter.Execute(program, scope) != Flow.Normal)
            throw new TemplateRuntimeException("'break' or 'continue' outside a for loop.", 0);
        return new RenderResult(interpreter.output.ToString(), interpreter.generationSpans);
    }

    /// <summary>Renders <paramref name="body"/> into a string of its own (macros, set blocks, filter blocks).</summary>
    public string Capture(IReadOnlyList<Statement> body, Scope scope)
    {
        var saved = output;
        output = new StringBuilder();
        captureDepth++;
        try
        {
            Execute(body, scope);
            return output.ToString();
        }
        finally
        {
            output = saved;
            captureDepth--;
        }
    }

    Flow Execute(IReadOnlyList<Statement> body, Scope scope)
    {
        foreach (var statement in body)
        {
            var flow = Execute(statement, scope);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow Execute(Statement statement, Scope scope)
    {
        switch (statement)
        {
            case TextStatement text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputStatement print:
                output.Append(PythonFormat.Str(Evaluate(print.Value, scope)));
                return Flow.Normal;
            case IfStatement branches:
                foreach (var (test, body) in branches.Branches)
                    if (Operators.Truthy(Evaluate(test, scope))) return Execute(body, scope);
                return Execute(branches.Else, scope);
            case ForStatement loop:
                return ExecuteFor(loop, scope);
            case SetStatement set:
                ExecuteSet(set, scope);
                return Flow.Normal;
            case SetBlockStatement block:
                object? captured = Capture(block.Body, scope);
                foreach (var filter in block.Filters) captured = ApplyFilter(filter, captured, scope);
                scope.Set(block.Target, captured);
                return Flow.Normal;
            case MacroStatement macro:
                scope.Set(macro.Name, new Macro(macro, scope));
                return Flow.Normal;
            case CallBlockStatement call:
                var caller = new Macro(new MacroStatement("caller", call.Parameters, call.Body, call.Line), scope);
                var callee = Evaluate(call.Call.Callee, scope);
                var (positional, named) = EvaluateArguments(call.Call.Arguments, scope);
                named["caller"] = caller;
                output.Append(PythonFormat.Str(Invoke(callee, positional, named, call.Line)));
                return Flow.Normal;
            case FilterBlockStatement filterBlock:
                object? filtered = Capture(filterBlock.Body, scope);
                foreach (var filter in filterBlock.Filters) filtered = ApplyFilter(filter, filtered, scope);
                output.Append(PythonFormat.Str(filtered));
                return Flow.Normal;
            case GenerationStatement generation:
                var start = output.Length;
                var flow = Execute(generation.Body, scope);
                if (captureDepth == 0 && output.Length > start) generationSpans.Add(new TextSpan(start, output.Length));
                return flow;
            case BreakStatement:
                return Flow.Break;
            case ContinueStatement:
                return Flow.Continue;
            case DoStatement action:
                Evaluate(action.Value, scope);
                return Flow.Normal;
            default:
                throw new TemplateRuntimeException($"statement {statement.GetType().Name} is not supported.", statement.Line);
        }
    }

    Flow ExecuteFor(ForStatement loop, Scope scope)
    {
        var iterable = Evaluate(loop.Iterable, scope);
        var items = Iterate(iterable, loop.Iterable, loop.Line);
        if (loop.Filter is not null)
            items = items.Where(item =>
            {
                var test = new Scope(scope);
                Bind(loop.Targets, item, test, loop.Line);
                return Operators.Truthy(Evaluate(loop.Filter, test));
            }).ToList();
        for (var i = 0; i < items.Count; i++)
        {
            var frame = new Scope(scope);
            Bind(loop.Targets, items[i], frame, loop.Line);
            frame.Set("loop", new LoopInfo(items, i));
            if (Execute(loop.Body, frame) == Flow.Break) break;
        }
        return items.Count == 0 ? Execute(loop.Else, scope) : Flow.Normal;
    }

    /// <summary>What a for loop or a filter iterates: a list's items, a string's characters, a dict's keys.</summary>
    public static List<object?> Iterate(object? value, Node? source, int line) => value switch
    {
        List<object?> list => list,
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
        OrderedDictionary<string, object?> dict => dict.Keys.Select(k => (object?)k).ToList(),
        Undefined => [],
        _ => throw new TemplateRuntimeException($"'{Operators.TypeName(value)}' object is not iterable{Describe(source)}.", line),
    };

    static string Describe(Node? source) => source switch
    {
        NameExpression name => $" ('{name.Name}')",
        AttributeExpression attribute => $" ('{attribute.Name}')",
        _ => "",
    };

    static void Bind(IReadOnlyList<string> targets, object? item, Scope scope, int line)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], item);
            return;
        }
        var values = item as List<object?> ?? throw new TemplateRuntimeException($"cannot unpack '{Operators.TypeName(item)}' into {targets.Count} names.", line);
        if (values.Count != targets.Count)
            throw new TemplateRuntimeException($"cannot unpack {values.Count} values into {targets.Count} names.", line);
        for (var i = 0; i < targets.Count; i++) scope.Set(targets[i], values[i]);
    }

    void ExecuteSet(SetStatement set, Scope scope)
    {
        var value = Evaluate(set.Value, scope);
        if (set.Namespace is { } nsName)
        {
            if (!scope.TryGet(nsName, out var target) || target is not Namespace ns)
                throw new TemplateRuntimeException($"cannot assign attribute '{set.Targets[0]}' on '{nsName}': only a namespace() takes attribute assignments.", set.Line);
            ns.Attributes[set.Targets[0]] = value;
            return;
        }
        Bind(set.Targets, value, scope, set.Line);
    }

    public object? Evaluate(Expression expression, Scope scope)
    {
        switch (expression)
        {
            case Literal literal:
                return literal.Value;
            case NameExpression name:
                return scope.TryGet(name.Name, out var value) ? value : new Undefined(name.Name);
            case ListExpression list:
                return list.Items.Select(item => Evaluate(item, scope)).ToList();
            case DictExpression dict:
                var result = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, item) in dict.Items) result[PythonFormat.Str(Evaluate(key, scope))] = Evaluate(item, scope);
                return result;
            case AttributeExpression attribute:
                return Members.Attribute(Evaluate(attribute.Target, scope), attribute.Name, DescribeTarget(attribute.Target), attribute.Line);
            case SubscriptExpression subscript:
                var target = Evaluate(subscript.Target, scope);
                if (subscript.Index is SliceExpression slice)
                    return Members.Slice(target, Optional(slice.Start, scope), Optional(slice.Stop, scope), Optional(slice.Step, scope), slice.Line);
                return Members.Item(target, Evaluate(subscript.Index, scope), DescribeTarget(subscript.Target), subscript.Line);
            case CallExpression call:
                var callee = Evaluate(call.Callee, scope);
                var (positional, named) = EvaluateArguments(call.Arguments, scope);
                return Invoke(callee, positional, named, call.Line, call.Callee);
            case FilterExpression filter:
                return ApplyFilter(filter, Evaluate(filter.Target!, scope), scope);
            case TestExpression test:
                var (testArgs, testNamed) = EvaluateArguments(test.Arguments, scope);
                var passed = Tests.Apply(test.Name, Evaluate(test.Target, scope), testArgs, testNamed, test.Line);
                return test.Negated ? !passed : passed;
            case UnaryExpression unary:
                var operand = Evaluate(unary.Operand, scope);
                return unary.Operator switch
                {
                    "not" => !Operators.Truthy(operand),
                    "-" => operand switch
                    {
                        long l => (object)(-l),
                        double d => -d,
                        bool b => b ? -1L : 0L,
                        _ => throw new TemplateRuntimeException($"bad operand type for unary -: '{Operators.TypeName(operand)}'.", unary.Line),
                    },
                    _ => operand is long or double ? operand : throw new TemplateRuntimeException($"bad operand type for unary +: '{Operators.TypeName(operand)}'.", unary.Line),
                };
            case BinaryExpression binary:
                var left = Evaluate(binary.Left, scope);
                switch (binary.Operator)
                {
                    case "and": return Operators.Truthy(left) ? Evaluate(binary.Right, scope) : left;
                    case "or": return Operators.Truthy(left) ? left : Evaluate(binary.Right, scope);
                }
                return Operators.Binary(binary.Operator, left, Evaluate(binary.Right, scope), binary.Line);
            case CompareExpression compare:
                var current = Evaluate(compare.First, scope);
                foreach (var (op, operandExpression) in compare.Rest)
                {
                    var next = Evaluate(operandExpression, scope);
                    if (!Compare(op, current, next, compare.Line)) return false;
                    current = next;
                }
                return true;
            case ConditionalExpression conditional:
                if (Operators.Truthy(Evaluate(conditional.Test, scope))) return Evaluate(conditional.Then, scope);
                return conditional.Else is null ? new Undefined("conditional expression") : Evaluate(conditional.Else, scope);
            default:
                throw new TemplateRuntimeException($"expression {expression.GetType().Name} is not supported.", expression.Line);
        }
    }

    static string DescribeTarget(Expression target) => target switch
    {
        NameExpression name => name.Name,
        AttributeExpression attribute => DescribeTarget(attribute.Target) + "." + attribute.Name,
        SubscriptExpression { Index: Literal literal } subscript => DescribeTarget(subscript.Target) + "[" + PythonFormat.Repr(literal.Value) + "]",
        SubscriptExpression subscript => DescribeTarget(subscript.Target) + "[...]",
        _ => "value",
    };

    object? Optional(Expression? expression, Scope scope) => expression is null ? null : Evaluate(expression, scope);

    static bool Compare(string op, object? left, object? right, int line) => op switch
    {
        "==" => Operators.Equals(left, right),
        "!=" => !Operators.Equals(left, right),
        "<" => Operators.Compare(left, right, line) < 0,
        ">" => Operators.Compare(left, right, line) > 0,
        "<=" => Operators.Compare(left, right, line) <= 0,
        ">=" => Operators.Compare(left, right, line) >= 0,
        "in" => Operators.Contains(right, left, line),
        "not in" => !Operators.Contains(right, left, line),
        _ => throw new TemplateRuntimeException($"unknown comparison '{op}'.", line),
    };

    (List<object?> Positional, Dictionary<string, object?> Named) EvaluateArguments(Arguments arguments, Scope scope)
    {
        var positional = arguments.Positional.Select(a => Evaluate(a, scope)).ToList();
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments.Named) named[name] = Evaluate(value, scope);
        return (positional, named);
    }

    public object? Invoke(object? callee, IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> named, int line, Expression? calleeExpression = null) => callee switch
    {
        Callable callable => callable.Invoke(this, positional, named, line),
        Undefined undefined => throw new TemplateRuntimeException($"'{undefined.Name}' is undefined and cannot be called.", line),
        _ => throw new TemplateRuntimeException($"'{(calleeExpression is null ? Operators.TypeName(callee) : DescribeTarget(calleeExpression))}' is not callable.", line),
    };

    object? ApplyFilter(FilterExpression filter, object? value, Scope scope)
    {
        var (positional, named) = EvaluateArguments(filter.Arguments, scope);
        return Filters.Apply(this, filter.Name, value, positional, named, filter.Line);
    }
}
