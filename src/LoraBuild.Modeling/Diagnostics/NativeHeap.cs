using System.Runtime.InteropServices;

namespace LoraBuild.Diagnostics;

/// <summary>
/// glibc keeps freed heap memory mapped (below its 32 MB mmap threshold, allocations come from the heap, and holes
/// between live blocks are never returned). Loading a quantised model frees gigabytes of dense temporaries between
/// long-lived NF4 blocks; <c>malloc_trim(0)</c> hands the free pages back (madvise DONTNEED) so that they stop counting
/// as resident. A no-op off glibc.
/// </summary>
public static partial class NativeHeap
{
    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    /// <summary>Returns free heap pages to the system; true when glibc released any.</summary>
    public static bool ReleaseFreePages()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
