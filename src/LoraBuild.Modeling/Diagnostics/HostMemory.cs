using System.Globalization;

namespace LoraBuild.Diagnostics;

/// <summary>
/// The process's resident memory from /proc/self/status (Linux; 0 elsewhere): its peak (VmHWM) for training metrics
/// and CPU benchmarks. Writing 5 to /proc/self/clear_refs resets the peak to the current resident size, so that a
/// benchmark case's peak is its own and not start-up's.
/// </summary>
public static class HostMemory
{
    /// <summary>Resets the peak where the kernel allows it; returns the resident bytes now (the baseline).</summary>
    public static long ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return ResidentBytes();
    }

    public static long PeakBytes() => Read("VmHWM:");

    public static long ResidentBytes() => Read("VmRSS:");

    /// <summary>Resident anonymous memory (heaps, tensors): unlike VmRSS it leaves out pages of mapped files the OS can drop.</summary>
    public static long AnonymousBytes() => Read("RssAnon:");

    static long Read(string field)
    {
        try
        {
            // "VmHWM:    123456 kB"
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
