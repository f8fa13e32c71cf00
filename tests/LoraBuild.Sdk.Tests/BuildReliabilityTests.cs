using System.Diagnostics;
using System.IO.Compression;

namespace LoraBuild.Sdk.Tests;

/// <summary>
/// Builds under faults (issue 12): pack packs only what the stamp says was built, a killed worker is a coded error,
/// killing the build takes the worker with it, and two builds of one project never train side by side.
/// </summary>
public class BuildReliabilityTests
{
    const string Adapter = """
          <ItemGroup>
            <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" EvalDataset="data/spell-eval.jsonl" Rank="8" Alpha="16" />
          </ItemGroup>
        """;

    static string[] Packages(AdapterProject project)
    {
        var folder = Path.Combine(project.Directory, "packages");
        return Directory.Exists(folder) ? Directory.GetFiles(folder, "*.nupkg") : [];
    }

    [Fact]
    public void Pack_without_build_after_an_input_changed_is_refused_instead_of_shipping_the_old_adapter_under_a_new_card()
    {
        var project = new AdapterProject(Adapter);
        var build = project.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);

        File.AppendAllText(Path.Combine(project.Directory, "data", "spell-train.jsonl"), "{\"prompt\": \"spell 1:\", \"completion\": \" one\"}\n");
        var pack = project.Run("pack", "--no-build", "-o", "packages");
        Assert.NotEqual(0, pack.ExitCode);
        Assert.Contains("error LB0160: LoraAdapter 'speller' cannot be packed: its inputs changed since it was built", pack.Output);
        Assert.Contains("Run 'dotnet build' first", pack.Output);
        Assert.Empty(Packages(project));

        // Built for the new inputs, it packs, and the package's stamp is the build's.
        Assert.Equal(0, project.Run("build").ExitCode);
        var packed = project.Run("pack", "--no-build", "-o", "packages");
        Assert.True(packed.ExitCode == 0, packed.Output);
        using var archive = ZipFile.OpenRead(Assert.Single(Packages(project)));
        using var stamp = new StreamReader(archive.GetEntry("lora/speller/lorabuild.fingerprint")!.Open());
        Assert.Equal(File.ReadAllText(Path.Combine(project.Directory, "obj", "lorabuild", "speller", "lorabuild.fingerprint")).Trim(), stamp.ReadToEnd().Trim());
    }

    [Fact]
    public void A_killed_worker_is_a_coded_error_and_pack_without_build_then_says_to_build()
    {
        var project = new AdapterProject(Adapter);
        project.Environment["FAKE_WORKER_KILL_SELF"] = "1";
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error LB0161: LoraAdapter 'speller': the lorabuild worker (train) was killed (SIGKILL", build.Output);
        Assert.Contains("the next build resumes from the last checkpoint", build.Output);
        Assert.DoesNotContain("MSB6006", build.Output);

        var pack = project.Run("pack", "--no-build", "-o", "packages");
        Assert.NotEqual(0, pack.ExitCode);
        Assert.Contains("error LB0160: LoraAdapter 'speller' cannot be packed: it has not been built", pack.Output);
        Assert.DoesNotContain("MSB4018", pack.Output);
        Assert.Empty(Packages(project));
    }

    [Fact]
    public void Killing_the_build_with_sigkill_takes_the_worker_with_it()
    {
        var project = new AdapterProject(Adapter);
        Assert.Equal(0, project.Run("restore").ExitCode);
        var pidFile = Path.Combine(project.Directory, "worker.pid");
        var buildOutput = new System.Text.StringBuilder();
        using var build = StartDotNet(project, new Dictionary<string, string?> { ["FAKE_WORKER_HANG"] = pidFile }, buildOutput, "build", "--no-restore");
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (!File.Exists(pidFile) && !build.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(50);
        lock (buildOutput) Assert.True(File.Exists(pidFile), "the worker never started:\n" + buildOutput);
        var workerPid = int.Parse(File.ReadAllText(pidFile));
        Assert.True(IsAlive(workerPid));

        build.Kill(); // SIGKILL to dotnet build alone: no cancellation reaches the task
        build.WaitForExit();
        var gone = DateTime.UtcNow.AddSeconds(15);
        while (IsAlive(workerPid) && DateTime.UtcNow < gone) Thread.Sleep(100);
        var survived = IsAlive(workerPid);
        if (survived) Process.GetProcessById(workerPid).Kill();
        Assert.False(survived, "the worker outlived the killed build");
    }

    [Fact]
    public void Two_concurrent_builds_of_one_project_train_one_adapter_and_the_other_says_who_holds_it()
    {
        var project = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" Rank="4" Alpha="8" MaxSteps="60"
                             BatchSize="8" SequenceLength="32" TrainingSettings="save_steps=20;logging_steps=1" />
              </ItemGroup>
            """, fakeWorker: false);
        Assert.Equal(0, project.Run("restore").ExitCode);
        var owner = Path.Combine(project.Directory, "obj", "lorabuild", "speller", "run", "lorabuild.lock.owner");
        var firstOutput = new System.Text.StringBuilder();
        using var first = StartDotNet(project, new Dictionary<string, string?>(), firstOutput, "msbuild", "-t:LoraBuild");
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (!File.Exists(owner) && !first.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.True(File.Exists(owner), "the first build's worker never took the output");

        var second = project.Run("msbuild", "-t:LoraBuild");
        Assert.True(first.WaitForExit(600_000));
        first.WaitForExit();
        lock (firstOutput) Assert.True(first.ExitCode == 0, firstOutput.ToString());
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains("error LB0136: Another run is writing this output folder (pid", second.Output);
        Assert.DoesNotContain("step 1/60", second.Output);

        var again = project.Run("msbuild", "-t:LoraBuild");
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("LoraAdapter 'speller' is up to date", again.Output);
    }

    static Process StartDotNet(AdapterProject project, Dictionary<string, string?> environment, System.Text.StringBuilder output, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = project.Directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var a in new[] { "-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:n" }) start.ArgumentList.Add(a);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in project.Environment) start.Environment[key] = value;
        foreach (var (key, value) in environment) start.Environment[key] = value;
        start.Environment["FAKE_WORKER_LOG"] = project.WorkerLog;
        var process = Process.Start(start)!;
        // Always drained: a build blocked on a full pipe would look like a hang.
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Running (a zombie nobody has reaped yet counts as gone).</summary>
    static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0] != "Z";
        }
        catch (IOException)
        {
            return false;
        }
    }
}
