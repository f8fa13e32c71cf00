using System.Diagnostics;
using LoraBuild.SafeTensors;
using LoraBuild.Tests;
using static TorchSharp.torch;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// The worker under faults (issue 12): bad output folders found before training, a run with nothing to learn refused,
/// a full disk during a checkpoint, two runs on one output, and a build process that dies under the worker.
/// </summary>
public class FaultToleranceTests
{
    static readonly string[] Quick = ["max_steps=6", "save_steps=2", "save_total_limit=3", "logging_steps=1", "eval_dataset="];

    public FaultToleranceTests() => TestPaths.EnsureTorch();

    static List<string> TrainArgs(string output, params string[] settings)
    {
        var args = new List<string> { "train", "--config", Examples.Digits("spell-lora.yaml"), "--out", output };
        foreach (var s in settings) args.AddRange(["--set", s]);
        return args;
    }

    static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lorabuild.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) start.Environment[key] = value;
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    static void WaitFor(Func<bool> condition, Process process, string what)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!condition() && !process.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.True(condition(), $"never saw: {what}");
    }

    [Fact]
    public void Empty_input_ids_are_refused_with_a_code()
    {
        var path = Path.Combine(TestPaths.TempDirectory(), "ids.safetensors");
        using (var scope = NewDisposeScope()) SafeTensorsWriter.Write(path, [KeyValuePair.Create("input_ids", zeros([1, 0], ScalarType.Int64))]);
        var result = Worker.Run("logits", "--model", TestPaths.Hf("llama"), "--input-ids", path, "--out", path + ".out");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{path}: error LB0091: 'input_ids' [1, 0] holds no tokens", result.StdErr);
        Assert.DoesNotContain("   at ", result.StdErr);
    }

    [Fact]
    public void A_run_where_every_completion_lies_beyond_sequence_len_is_refused_not_trained_on_nothing()
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        var result = Worker.Run([.. TrainArgs(output, [.. Quick, "sequence_len=3"])]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0135", result.StdErr);
        Assert.DoesNotContain("step 1/", result.StdOut);
        Assert.False(Directory.Exists(Path.Combine(output, "adapter")));
    }

    [Fact]
    public void An_output_path_that_is_a_file_or_cannot_be_written_is_refused_before_any_work()
    {
        var file = Path.Combine(TestPaths.TempDirectory(), "taken");
        File.WriteAllText(file, "not a folder");
        var onFile = Worker.Run([.. TrainArgs(file, Quick)]);
        Assert.Equal(1, onFile.ExitCode);
        Assert.Contains($"{file}: error LB0132: The output path names an existing file", onFile.StdErr);
        Assert.Equal("not a folder", File.ReadAllText(file));

        // /proc takes no new folders, whoever asks (a read-only folder would not stop root, who runs CI here).
        var readOnly = Worker.Run([.. TrainArgs("/proc/lorabuild-test-output", Quick)]);
        Assert.Equal(1, readOnly.ExitCode);
        Assert.Contains("error LB0132: The output folder cannot be written", readOnly.StdErr);
        Assert.DoesNotContain("train data", readOnly.StdOut); // found before the data, the model or any step
    }

    [Fact]
    public void Disk_full_during_a_checkpoint_keeps_the_last_good_one_and_the_next_run_resumes()
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        var full = Worker.RunWithEnvironment(new Dictionary<string, string?> { ["LORABUILD_FAULT_DISK_FULL_AT_STEP"] = "4" }, [.. TrainArgs(output, Quick)]);
        Assert.Equal(1, full.ExitCode);
        Assert.Contains("error LB0137: Writing the checkpoint at step 4 failed: No space left on device", full.StdErr);
        Assert.Contains("The last good checkpoint is kept at", full.StdErr);
        Assert.DoesNotContain("   at ", full.StdErr);
        var checkpoints = Path.Combine(output, "checkpoints");
        Assert.Equal(["checkpoint-00000002"], Directory.GetDirectories(checkpoints).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(output, "run.json")));

        var resumed = Worker.Run([.. TrainArgs(output, Quick), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr + resumed.StdOut);
        Assert.Matches(@"resumed from .*checkpoint-00000002 at step 2/6", resumed.StdOut);
        Assert.True(File.Exists(Path.Combine(output, "run.json")));
    }

    [Fact]
    public void A_new_run_removes_the_previous_runs_completion_marker_before_it_starts()
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "run.json"), "{\"fingerprint\": \"an older run\"}");
        // The new run is interrupted (here by a full disk at its first checkpoint): nothing may vouch for the folder.
        var interrupted = Worker.RunWithEnvironment(new Dictionary<string, string?> { ["LORABUILD_FAULT_DISK_FULL_AT_STEP"] = "2" }, [.. TrainArgs(output, Quick)]);
        Assert.Equal(1, interrupted.ExitCode);
        Assert.False(File.Exists(Path.Combine(output, "run.json")), "the older run.json survived an interrupted new run");
    }

    [Fact]
    public void A_second_run_on_the_same_output_is_refused_with_the_holder_named_and_the_lock_dies_with_it()
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        using var first = Start(TrainArgs(output, "max_steps=100000", "save_steps=0", "logging_steps=1", "eval_dataset="));
        var stepSeen = false;
        first.OutputDataReceived += (_, e) => stepSeen |= e.Data?.StartsWith("step ") == true;
        try
        {
            WaitFor(() => stepSeen, first, "the first run's first step");
            var second = Worker.Run([.. TrainArgs(output, Quick)]);
            Assert.Equal(1, second.ExitCode);
            Assert.Contains("error LB0136: Another run is writing this output folder", second.StdErr);
            Assert.Contains($"pid {first.Id}", second.StdErr);
        }
        finally
        {
            first.Kill();
            first.WaitForExit();
        }
        // kill -9 released the lock: the next run takes the folder.
        var third = Worker.Run([.. TrainArgs(output, Quick)]);
        Assert.True(third.ExitCode == 0, third.StdErr);
    }

    [Fact]
    public void The_worker_exits_when_the_build_process_that_started_it_dies()
    {
        using var build = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        var output = Path.Combine(TestPaths.TempDirectory(), "run");
        using var worker = Start(TrainArgs(output, "max_steps=100000", "save_steps=0", "logging_steps=1", "eval_dataset="),
            new Dictionary<string, string?> { ["LORABUILD_PARENT_PID"] = build.Id.ToString() });
        var stepSeen = false;
        var stderr = new System.Text.StringBuilder();
        worker.OutputDataReceived += (_, e) => stepSeen |= e.Data?.StartsWith("step ") == true;
        worker.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        try
        {
            WaitFor(() => stepSeen, worker, "the worker's first step");
            build.Kill();
            build.WaitForExit();
            Assert.True(worker.WaitForExit(10_000), "the worker outlived its build by more than 10 s");
            worker.WaitForExit();
            Assert.Equal(143, worker.ExitCode);
            lock (stderr) Assert.Contains($"the build process (pid {build.Id}) has exited; stopping", stderr.ToString());
        }
        finally
        {
            if (!worker.HasExited) worker.Kill();
        }
    }
}

/// <summary>
/// A real full disk: a small tmpfs mounted for the test (needs root, as CI runs here; elsewhere the mount fails and the
/// test says so in its output and returns). No injected fault: the kernel's ENOSPC reaches the checkpoint writer.
/// </summary>
public class RealDiskFullTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    readonly string mount = Path.Combine(TestPaths.TempDirectory(), "small-disk");

    bool Mount(string size)
    {
        Directory.CreateDirectory(mount);
        using var process = Process.Start(new ProcessStartInfo("mount", $"-t tmpfs -o size={size} tmpfs {mount}") { RedirectStandardError = true, UseShellExecute = false })!;
        process.WaitForExit();
        if (process.ExitCode != 0) log.WriteLine("tmpfs could not be mounted (not root?): " + process.StandardError.ReadToEnd());
        return process.ExitCode == 0;
    }

    public void Dispose()
    {
        using var process = Process.Start(new ProcessStartInfo("umount", $"-l {mount}") { RedirectStandardError = true, UseShellExecute = false })!;
        process.WaitForExit();
    }

    static List<string> TrainArgs(string output, params string[] settings)
    {
        var args = new List<string> { "train", "--config", Examples.Digits("spell-lora.yaml"), "--out", output };
        foreach (var s in settings) args.AddRange(["--set", s]);
        return args;
    }

    [Fact]
    public void A_disk_too_small_for_the_checkpoints_is_refused_before_training()
    {
        if (!Mount("600k")) return;
        var result = Worker.Run([.. TrainArgs(Path.Combine(mount, "run"), "max_steps=6", "save_steps=2", "save_total_limit=3", "eval_dataset=")]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error LB0137: The output file system has", result.StdErr);
        Assert.DoesNotContain("step 1/", result.StdOut);
    }

    [Fact]
    public void The_disk_filling_up_during_a_run_keeps_the_last_good_checkpoint_and_the_next_run_resumes()
    {
        if (!Mount("64m")) return;
        var output = Path.Combine(mount, "run");
        string[] settings = ["max_steps=60", "save_steps=10", "save_total_limit=5", "logging_steps=10", "eval_dataset="];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lorabuild.dll"));
        foreach (var a in TrainArgs(output, settings)) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var first = Path.Combine(output, "checkpoints", "checkpoint-00000010");
        var deadline = DateTime.UtcNow.AddMinutes(4);
        while (!Directory.Exists(first) && !process.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Assert.True(Directory.Exists(first), "no first checkpoint");
        // Fill the disk: the next checkpoint cannot fit.
        var filler = Path.Combine(mount, "filler");
        try
        {
            using var stream = new FileStream(filler, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
            var block = new byte[64 << 10];
            while (true) stream.Write(block);
        }
        catch (IOException)
        {
            // ENOSPC: full.
        }
        Assert.True(process.WaitForExit(300_000));
        process.WaitForExit();
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("error LB0137", stderr.Result);
        Assert.Contains("checkpoint-00000010", stderr.Result);
        Assert.DoesNotContain("   at ", stderr.Result);
        Assert.True(File.Exists(Path.Combine(first, "trainer_state.json")), "the last good checkpoint was lost");
        Assert.False(File.Exists(Path.Combine(output, "run.json")));

        File.Delete(filler);
        var resumed = Worker.Run([.. TrainArgs(output, settings), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.StdErr + resumed.StdOut);
        Assert.Matches(@"resumed from .*checkpoint-00000010 at step 10/60", resumed.StdOut);
        _ = stdout.Result;
    }
}
