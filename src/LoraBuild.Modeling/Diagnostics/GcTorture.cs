namespace LoraBuild.Diagnostics;

/// <summary>
/// A debugging switch (LORABUILD_GC_TORTURE=1, off by default; docs/native.md): a background thread forces full blocking
/// garbage collections and runs pending finalizers in a tight loop. Any native handle that is reachable only through
/// the raw pointer handed to libtorch is then freed within microseconds — a use-after-free that under normal load shows
/// once in thousands of runs shows at once.
/// </summary>
public static class GcTorture
{
    public const string Variable = "LORABUILD_GC_TORTURE";
    static int started;

    public static bool Requested => Environment.GetEnvironmentVariable(Variable) is "1" or "true";

    /// <summary>Starts the torture thread once per process when <see cref="Variable"/> asks for it.</summary>
    public static void StartFromEnvironment(Action<string> log)
    {
        if (!Requested || Interlocked.Exchange(ref started, 1) == 1) return;
        var thread = new Thread(Loop) { IsBackground = true, Name = "LoraBuild GC torture", Priority = ThreadPriority.AboveNormal };
        thread.Start();
        log($"LoraBuild: {Variable}=1: full blocking collections and finalizers run continuously (slow; for finding native ownership bugs).");
    }

    static void Loop()
    {
        while (true)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
            GC.WaitForPendingFinalizers();
            Thread.Yield();
        }
    }
}
