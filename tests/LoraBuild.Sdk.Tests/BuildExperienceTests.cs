using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LoraBuild.Sdk.Tests;

/// <summary>The build as users live it: the terminal logger, design-time builds, adapter projects that compile nothing.</summary>
public class BuildExperienceTests
{
    const string AdapterWithGate = """
          <ItemGroup>
            <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" EvalDataset="data/spell-eval.jsonl" Rank="8" Alpha="16" />
            <LoraEvalGate Include="speller" Metric="exact_match" Min="0.9" />
          </ItemGroup>
        """;

    [Theory]
    [InlineData("-tl:on")]
    [InlineData("-tl:off")]
    public void A_build_on_a_terminal_shows_step_loss_eta_eval_and_the_gate_table(string terminalLogger)
    {
        var project = new AdapterProject(AdapterWithGate);
        // Long enough for the terminal logger to redraw its live area while a step is current.
        project.Environment["FAKE_WORKER_STEP_DELAY_MS"] = "1500";
        var build = Terminal.Run(project, "build", terminalLogger, "-nodeReuse:false", "-p:UseSharedCompilation=false");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Equal(1, project.WorkerLaunches);
        // The live line leaves out lr and epoch (the terminal logger drops a status wider than the terminal).
        Assert.Matches(@"speller: step 1/2 loss 2\.0000( lr 1\.00e-04)? tokens/s 100( epoch 0\.50)? eta 00:00:01", build.Output);
        Assert.Matches(@"speller: step 2/2 loss 1\.0000( lr 0\.00e\+00)? tokens/s 100( epoch 1\.00)? eta 00:00:00", build.Output);
        Assert.Contains("speller: evaluating the adapter: 4 examples", build.Output);
        Assert.Contains("speller: eval: loss 0.5000 perplexity 1.65 token accuracy 0.900 exact match 0.950", build.Output);
        Assert.Contains("gate speller exact_match = 0.95 (base 0), min 0.9: passed", build.Output);
        if (terminalLogger == "-tl:on")
        {
            // The live status line: project, the "training" marker, the step.
            Assert.Matches(@"Adapters\s+net[\d.]+\s+training\s+speller: step \d/2 loss", build.Output);
            // The project's summary names bin/lora/ as its output (the test-run protocol makes it say "test").
            Assert.Matches(@"Adapters test (net[\d.]+ )?succeeded \([\d.]+s\) \S+\s*bin/lora/", build.Output);
        }
    }

    [Fact]
    public void A_design_time_build_launches_no_worker()
    {
        var project = new AdapterProject(AdapterWithGate);
        var designTime = project.Run("build", "-p:DesignTimeBuild=true");
        Assert.True(designTime.ExitCode == 0, designTime.Output);
        // Visual Studio reaching LoraBuild from a design-time target list (BuildingProject stays false).
        var notBuilding = project.Run("msbuild", "-t:LoraBuild", "-p:BuildingInsideVisualStudio=true");
        Assert.True(notBuilding.ExitCode == 0, notBuilding.Output);
        Assert.Equal(0, project.WorkerLaunches);
        Assert.False(Directory.Exists(Path.Combine(project.Directory, "obj", "lorabuild", "speller", "run")));
        // The same project in a real build trains.
        Assert.Equal(0, project.Run("build").ExitCode);
        Assert.Equal(1, project.WorkerLaunches);
        // Its settings' errors would be located at the item's project line.
        Assert.Contains($"--set-origin {project.ProjectFile}({project.LineOf("<LoraAdapter")})", File.ReadAllText(project.WorkerLog));
    }

    [Fact]
    public void An_adapter_project_compiles_nothing_and_keeps_its_hooks_and_incrementality()
    {
        var project = new AdapterProject(AdapterWithGate + """
              <Target Name="BeforeHook" BeforeTargets="BeforeLoraBuild"><Message Importance="high" Text="hook: before LoraBuild" /></Target>
              <Target Name="AfterHook" AfterTargets="AfterLoraBuild"><Message Importance="high" Text="hook: after LoraBuild" /></Target>
            """);
        var build = project.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("hook: before LoraBuild", build.Output);
        Assert.Contains("hook: after LoraBuild", build.Output);
        Assert.DoesNotContain("CoreCompile", build.Output);
        var assemblies = Directory.EnumerateFiles(project.Directory, "*.dll", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(project.Directory, "*.deps.json", SearchOption.AllDirectories)).ToList();
        Assert.Empty(assemblies);
        Assert.True(File.Exists(Path.Combine(project.Directory, "bin", "lora", "speller", "adapter_model.safetensors")));

        var again = project.Run("build");
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", again.Output);
        Assert.Contains("hook: after LoraBuild", again.Output);
        Assert.Equal(1, project.WorkerLaunches);
    }
}

/// <summary>Runs dotnet under script(1): a pseudo-terminal, as a user's shell gives it, so the terminal logger is live.</summary>
public static class Terminal
{
    static readonly Regex Escapes = new(@"\x1B\[[0-9;?]*[ -/]*[@-~]|\x1B\][^\x07\x1B]*(\x07|\x1B\\)|\x1B[=>]|\r", RegexOptions.Compiled);

    public static DotNet.Result Run(AdapterProject project, params string[] args)
    {
        var command = "dotnet " + string.Join(' ', args.Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        var start = new ProcessStartInfo("script") { WorkingDirectory = project.Directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-qec", command, "/dev/null" }) start.ArgumentList.Add(a);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(key);
        start.Environment["TERM"] = "xterm-256color";
        start.Environment["FAKE_WORKER_LOG"] = project.WorkerLog;
        foreach (var (key, value) in project.Environment) start.Environment[key] = value;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(600_000)) { process.Kill(true); throw new TimeoutException(command); }
        return new DotNet.Result(process.ExitCode, Escapes.Replace(output.Result + error.Result, ""), clock.Elapsed);
    }
}
