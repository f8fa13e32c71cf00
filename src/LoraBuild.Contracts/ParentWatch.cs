namespace LoraBuild.Diagnostics;

/// <summary>
/// Ties the worker's life to the build that started it: with <c>LORABUILD_PARENT_PID</c> set (the SDK's RunLoraWorker
/// sets it to the MSBuild process), a background thread checks twice a second that the process still exists and
/// exits the worker when it does not — a <c>kill -9</c> of <c>dotnet build</c> no longer leaves an orphan writing
/// checkpoints while the next build starts. Checkpoints are written atomically, so stopping at any point is safe.
/// </summary>
public static class ParentWatch
{
    public const string Variable = "LORABUILD_PARENT_PID";
    public const int ExitCode = 143;

    public static void StartFromEnvironment(Action<string> report)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(Variable), out var pid) || pid <= 0) return;
        var identity = Identity(pid);
        if (identity is null) Stop(pid, report);
        var thread = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(500);
                if (Identity(pid) != identity) Stop(pid, report);
            }
        }) { IsBackground = true, Name = "lorabuild parent watch" };
        thread.Start();
    }

    static void Stop(int pid, Action<string> report)
    {
        report($"lorabuild: the build process (pid {pid}) has exited; stopping. Completed checkpoints are kept and the next build resumes from them.");
        Console.Out.Flush();
        Console.Error.Flush();
        // _exit, not Environment.Exit: a managed shutdown while the training thread is inside libtorch can crash (SIGSEGV).
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) ImmediateExit(ExitCode);
        Environment.Exit(ExitCode);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "_exit")]
    static extern void ImmediateExit(int status);

    /// <summary>The process's start time from /proc (so a recycled pid is not mistaken for the parent), or null when it is gone.</summary>
    static string? Identity(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Field 22 (starttime) counts from after the ")" that closes the command name, which may itself hold spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] == "Z" ? null : fields[19];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentException)
        {
            if (Directory.Exists("/proc/self")) return null;
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                return process.HasExited ? null : process.StartTime.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception)
            {
                return null;
            }
        }
    }
}
