using LoraBuild.Templating.Jinja;

namespace LoraBuild.Tests;

/// <summary>The Jinja interpreter, feature by feature, against what jinja2 (as transformers configures it) renders.</summary>
public class JinjaTests
{
    static string Render(string template, params (string Name, object? Value)[] variables) =>
        JinjaTemplate.Parse(template).RenderText(variables.ToDictionary(v => v.Name, v => v.Value));

    static List<object?> List(params object?[] items) => items.ToList();

    static OrderedDictionary<string, object?> Dict(params (string Key, object? Value)[] items)
    {
        var dict = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in items) dict[k] = v;
        return dict;
    }

    [Theory]
    [InlineData("{% if true %}\nyes\n{% endif %}\n", "yes\n")] // trim_blocks eats the newline after a block tag; one trailing newline of the source goes
    [InlineData("  {% if true %}x{% endif %}", "x")] // lstrip_blocks: indent before a block tag at a line start
    [InlineData("a  {% if true %}x{% endif %}", "a  x")] // not at a line start: kept
    [InlineData("a\n    {%- if true -%}\n   x   {%- endif %}", "ax")]
    [InlineData("{{ 'a' }}\n{{ 'b' }}", "a\nb")] // trim_blocks does not apply to expressions
    [InlineData("a {#- comment -#} b", "ab")]
    [InlineData("{# c #}\nx", "x")]
    [InlineData("  {{ 'x' }}", "  x")] // lstrip_blocks does not apply to expressions
    [InlineData("{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}")]
    [InlineData("{%+ if true %}x{% endif %}", "x")]
    [InlineData("{% if true %}\r\na\r\nb\r\n{% endif %}\r\n", "a\nb\n")] // line endings read as "\n", as jinja2 does
    public void Whitespace_control(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ 1 + 2 }}|{{ 7 // 2 }}|{{ 7 / 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1.5 * 2 }}", "3|3|3.5|-4|2|1024|3.0")]
    [InlineData("{{ 'a' ~ 1 ~ none }}|{{ 'ab' * 3 }}|{{ [1] + [2] }}", "a1None|ababab|[1, 2]")]
    [InlineData("{{ none }}|{{ true }}|{{ [1, 'a', none, 2.5] }}|{{ {'k': 'v'} }}|{{ undefined_thing }}", "None|True|[1, 'a', None, 2.5]|{'k': 'v'}|")]
    [InlineData("{{ 1 < 2 < 3 }}|{{ 'b' in 'abc' }}|{{ 2 not in [1, 3] }}|{{ 'k' in {'k': 1} }}|{{ not 1 == 2 }}", "True|True|True|True|True")]
    [InlineData("{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ '' or [] }}|{{ 'a' if false }}|{{ 'a' if false else 'b' }}", "x|y|[]||b")]
    [InlineData("{{ 'abcdef'[1:3] }}|{{ 'abc'[::-1] }}|{{ [1,2,3,4][-2:] }}|{{ [1,2,3][-1] }}|{{ [1,2,3,4,5][::2] }}|{{ 'x'[5] }}", "bc|cba|[3, 4]|3|[1, 3, 5]|")]
    [InlineData("{{ 1e3 }}|{{ 0.1 + 0.2 }}|{{ 1_000 }}|{{ 10 / 4 }}|{{ 2.0 }}", "1000.0|0.30000000000000004|1000|2.5|2.0")]
    public void Expressions_follow_python(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ '  a b  '.strip() }}|{{ '\\n\\na\\n'.lstrip('\\n') }}|{{ 'xxaxx'.rstrip('x') }}|{{ ' a '.lstrip('\\n') }}.", "a b|a\n|xxa| a .")]
    [InlineData("{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a-b-c'.split('-', 1) }}|{{ 'x</think>y'.split('</think>')[-1] }}", "['a', 'b', '', 'c']|['a', 'b']|['a', 'b-c']|y")]
    [InlineData("{{ 'hello world'.title() }}|{{ 'ABC'.lower() }}|{{ 'abc'.upper() }}|{{ 'aXb'.replace('X', '-') }}|{{ 'hi there'.capitalize() }}", "Hello World|abc|ABC|a-b|Hi there")]
    [InlineData("{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a{}c{}'.format('b', 1) }}|{{ '-'.join(['a', 'b']) }}", "True|True|abc1|a-b")]
    [InlineData("{{ {'a': 1}.get('a') }}|{{ {'a': 1}.get('b', 'none') }}|{% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "1|none|x=1;y=2;")]
    public void String_and_dict_methods(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ '  x  ' | trim }}|{{ [1, 2] | length }}|{{ 'abc' | length }}|{{ [1, 2] | join(', ') }}|{{ 'a b' | upper }}", "x|2|3|1, 2|A B")]
    [InlineData("{{ missing | default('d') }}|{{ '' | default('d', true) }}|{{ none | default('d') }}", "d|d|None")]
    [InlineData("{{ [3, 1, 2] | sort }}|{{ [1, 2, 3] | reverse | list }}|{{ [1, 1, 2] | unique | list }}|{{ [1, 2] | first }}|{{ [1, 2] | last }}", "[1, 2, 3]|[3, 2, 1]|[1, 2]|1|2")]
    [InlineData("{{ '42' | int + 1 }}|{{ 'x' | int }}|{{ 3 | float }}|{{ 2.567 | round(2) }}|{{ -3 | abs }}|{{ [1, 2, 3] | sum }}", "43|0|3.0|2.57|3|6")]
    [InlineData("{{ 'hello world' | title }}|{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'x' | string }}|{{ '<&>' | e }}", "Hello World|a\n  b|  a\n  b|x|&lt;&amp;&gt;")]
    [InlineData("{{ {'b': 1, 'a': 2} | dictsort }}|{{ {'a': 1} | items | list }}|{{ [1, 2, 3] | select('odd') | list }}|{{ [1, 2, 3] | reject('odd') | list }}", "[['a', 2], ['b', 1]]|[['a', 1]]|[1, 3]|[2]")]
    public void Filters(string template, string expected) => Assert.Equal(expected, Render(template));

    [Fact]
    public void Attribute_filters_map_and_selectattr()
    {
        var messages = List(Dict(("role", "user"), ("content", "a")), Dict(("role", "assistant"), ("content", "b")), Dict(("role", "user"), ("content", "c")));
        Assert.Equal("a,c|3|['user', 'assistant', 'user']|b",
            Render("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}|{{ messages | length }}|" +
                   "{{ messages | map(attribute='role') | list }}|{{ (messages | rejectattr('role', 'eq', 'user') | first).content }}", ("messages", messages)));
    }

    [Fact]
    public void Tojson_is_transformers_json_dumps()
    {
        var tool = Dict(("name", "get_weather"), ("parameters", Dict(("city", "Zürich 中"), ("days", 3L), ("hot", true), ("ratio", 0.5), ("none", null), ("tags", List("a", "\"q\"\n")))));
        Assert.Equal("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich 中\", \"days\": 3, \"hot\": true, \"ratio\": 0.5, \"none\": null, \"tags\": [\"a\", \"\\\"q\\\"\\n\"]}}",
            Render("{{ tool | tojson }}", ("tool", tool)));
        Assert.Equal("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}", Render("{{ {'a': [1, 2], 'b': {}} | tojson(indent=2) }}"));
        Assert.Equal("{\"a\": 1, \"b\": 2}", Render("{{ {'b': 2, 'a': 1} | tojson(sort_keys=true) }}"));
    }

    [Theory]
    [InlineData("{{ x is defined }}|{{ y is defined }}|{{ y is undefined }}|{{ n is none }}|{{ x is string }}|{{ 3 is number }}|{{ 3 is integer }}|{{ 3.0 is float }}", "True|False|True|True|True|True|True|True")]
    [InlineData("{{ [1] is iterable }}|{{ {} is mapping }}|{{ 'a' is not mapping }}|{{ 4 is even }}|{{ 9 is divisibleby 3 }}|{{ 1 is eq 1 }}|{{ n is not none }}", "True|True|True|True|True|True|False")]
    [InlineData("{{ not x is defined }}|{{ x is defined and x == 'v' }}|{{ true is true }}|{{ false is sameas false }}", "False|True|True|True")]
    public void Tests_bind_tighter_than_not(string template, string expected) => Assert.Equal(expected, Render(template, ("x", "v"), ("n", null)));

    [Fact]
    public void Loop_variables_and_control()
    {
        Assert.Equal("1/3 first a-b;2/3 a-c;3/3 last b-;",
            Render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}/{{ loop.length }}{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %} " +
                   "{{ loop.previtem or x }}-{{ loop.nextitem }};{% endfor %}"));
        Assert.Equal("0:2 1:1 2:0 ", Render("{% for x in 'abc' %}{{ loop.index0 }}:{{ loop.revindex0 }} {% endfor %}"));
        Assert.Equal("odd even odd ", Render("{% for x in range(3) %}{{ loop.cycle('odd', 'even') }} {% endfor %}"));
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("13", Render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 3 %}{% break %}{% endif %}{% if x % 2 %}{{ x }}{% endif %}{% endfor %}"));
        Assert.Equal("2:b 3:c ", Render("{% for x in ['', 'b', 'c'] if x %}{{ loop.index + 1 }}:{{ x }} {% endfor %}"));
        Assert.Equal("", Render("{% for t in tools %}{{ t }}{% endfor %}"));
    }

    [Fact]
    public void Set_in_a_loop_stays_in_the_loop_and_namespace_carries_out()
    {
        Assert.Equal("outer|3|last-c",
            Render("{% set x = 'outer' %}{% set ns = namespace(count=0, last=none) %}{% for m in ['a', 'b', 'c'] %}{% set x = m %}{% set ns.count = ns.count + 1 %}" +
                   "{% set ns.last = 'last-' + m %}{% endfor %}{{ x }}|{{ ns.count }}|{{ ns.last }}"));
        Assert.Equal("inner", Render("{% if true %}{% set x = 'inner' %}{% endif %}{{ x }}"));
        Assert.Equal("a=1, b=2", Render("{% set a, b = 1, 2 %}a={{ a }}, b={{ b }}"));
        Assert.Equal("[HELLO]", Render("{% set block | upper %}hello{% endset %}[{{ block }}]"));
    }

    [Fact]
    public void Macros_and_call_blocks()
    {
        Assert.Equal("<b>x</b> <i>y</i>", Render("{% macro tag(text, name='b') %}<{{ name }}>{{ text }}</{{ name }}>{% endmacro %}{{ tag('x') }} {{ tag('y', name='i') }}"));
        Assert.Equal("[inner]", Render("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}"));
        Assert.Equal("HI", Render("{% filter upper %}hi{% endfilter %}"));
    }

    [Fact]
    public void Generation_blocks_mark_assistant_output()
    {
        var result = JinjaTemplate.Parse(
            "{% for m in messages %}{{ m.role }}: {% if m.role == 'assistant' %}{% generation %}{{ m.content }}<end>{% endgeneration %}{% else %}{{ m.content }}{% endif %}{{ '\n' }}{% endfor %}")
            .Render(new Dictionary<string, object?>
            {
                ["messages"] = List(Dict(("role", "user"), ("content", "hi")), Dict(("role", "assistant"), ("content", "hello")), Dict(("role", "user"), ("content", "bye")), Dict(("role", "assistant"), ("content", "ciao"))),
            });
        Assert.Equal("user: hi\nassistant: hello<end>\nuser: bye\nassistant: ciao<end>\n", result.Text);
        Assert.Equal(["hello<end>", "ciao<end>"], result.GenerationSpans.Select(s => result.Text[s.Start..s.End]));
    }

    [Fact]
    public void Raise_exception_and_strftime_now()
    {
        var e = Assert.Throws<TemplateRaisedException>(() => Render("line 1\n{% if messages|length == 0 %}\n  {{ raise_exception('No messages!') }}\n{% endif %}", ("messages", List())));
        Assert.Equal(("No messages!", 3), (e.Message, e.Line));
        var saved = Globals.Now;
        try
        {
            Globals.Now = () => new DateTime(2024, 7, 5, 14, 3, 9);
            Assert.Equal("05 Jul 2024|5 July|2024-07-05 02:03:09 PM", Render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d %B') }}|{{ strftime_now('%Y-%m-%d %I:%M:%S %p') }}"));
        }
        finally
        {
            Globals.Now = saved;
        }
    }

    [Fact]
    public void Undefined_values_behave_as_jinja2s_undefined()
    {
        Assert.Equal("|0|||False|[]|d", Render("{{ nothing | trim | upper }}|{{ nothing | length }}|{{ nothing | join(',') }}|{{ nothing ~ '' }}|{{ 'x' in nothing }}|{{ nothing | list }}|{{ nothing | default('d') }}"));
        Assert.Contains("'nothing' is undefined", Assert.Throws<TemplateRuntimeException>(() => Render("{{ nothing | tojson }}")).Message);
        Assert.Contains("'nothing' is undefined", Assert.Throws<TemplateRuntimeException>(() => Render("{{ nothing + 'x' }}")).Message);
    }

    [Fact]
    public void Tools_as_transformers_passes_them()
    {
        const string template = "{% if tools %}T{% else %}-{% endif %}{% if tools is not none %}N{% endif %}{% if tools is defined %}D{% endif %}";
        Assert.Equal("-D", Render(template, ("tools", null)));
        Assert.Equal("-N", Render(template));
    }

    [Theory]
    [InlineData("a\n{% if x %}\nb\n", 2, "'{% if %}' opened on line 2 is never closed")]
    [InlineData("a\n\n{% frobnicate %}", 3, "unknown tag 'frobnicate'")]
    [InlineData("{{ 1 +\n}}", 2, "expected an expression")]
    [InlineData("ok\n{% endfor %}", 2, "'{% endfor %}' with no block open")]
    [InlineData("{{ 'unterminated }}", 1, "string literal is never closed")]
    [InlineData("x\n{{ a b }}", 2, "expected '}}'")]
    [InlineData("{% for x in %}{% endfor %}", 1, "expected an expression")]
    [InlineData("x\n{# never closed", 2, "comment '{#' is never closed")]
    public void Syntax_errors_name_the_line(string template, int line, string message)
    {
        var e = Assert.Throws<TemplateSyntaxException>(() => JinjaTemplate.Parse(template));
        Assert.Equal(line, e.Line);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("a\n\n{{ message.content.strip() }}", 3, "'message' is undefined")]
    [InlineData("{% set xs = [1] %}\n{{ xs.append(2) }}", 2, "unsafe")]
    [InlineData("\n{{ 'a' + 1 }}", 2, "unsupported operand type(s) for +: 'str' and 'int'")]
    [InlineData("{{ x | frobnicate }}", 1, "no filter named 'frobnicate'")]
    [InlineData("{% set n = 3 %}{% set n.attr = 1 %}", 1, "only a namespace() takes attribute assignments")]
    [InlineData("\n\n{% for a, b in [1] %}{% endfor %}", 3, "cannot unpack 'int'")]
    public void Runtime_errors_name_the_line(string template, int line, string message)
    {
        var e = Assert.Throws<TemplateRuntimeException>(() => Render(template, ("x", "v")));
        Assert.Equal(line, e.Line);
        Assert.Contains(message, e.Message);
    }
}
