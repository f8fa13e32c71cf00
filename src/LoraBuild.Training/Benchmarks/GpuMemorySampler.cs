using System.Runtime.InteropServices;

namespace LoraBuild.Benchmarks;

/// <summary>
/// Peak device memory in use, sampled through NVML every millisecond. Includes the caching allocator's reserve, so it
/// is an upper bound on what PyTorch's max_memory_allocated reports for the same work. Null where NVML is absent.
/// </summary>
public sealed class GpuMemorySampler : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    struct NvmlMemory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    [DllImport("libnvidia-ml.so.1", EntryPoint = "nvmlInit_v2")] static extern int NvmlInit();
    [DllImport("libnvidia-ml.so.1", EntryPoint = "nvmlDeviceGetHandleByIndex_v2")] static extern int NvmlDeviceGetHandleByIndex(uint index, out IntPtr device);
    [DllImport("libnvidia-ml.so.1", EntryPoint = "nvmlDeviceGetMemoryInfo")] static extern int NvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);

    readonly IntPtr device;
    readonly Thread thread;
    volatile bool running = true;
    long peak;

    GpuMemorySampler(IntPtr device)
    {
        this.device = device;
        Baseline = Used();
        thread = new Thread(() =>
        {
            while (running)
            {
                var used = Used();
                if (used > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, used);
                Thread.Sleep(1);
            }
        }) { IsBackground = true };
        thread.Start();
    }

    public long Baseline { get; }

    /// <summary>Peak bytes in use above the level when sampling started.</summary>
    public long PeakAboveBaseline => Math.Max(Interlocked.Read(ref peak), Used()) - Baseline;

    long Used() => NvmlDeviceGetMemoryInfo(device, out var memory) == 0 ? (long)memory.Used : 0;

    public static GpuMemorySampler? TryStart(uint index = 0)
    {
        try
        {
            if (NvmlInit() != 0 || NvmlDeviceGetHandleByIndex(index, out var handle) != 0) return null;
            return new GpuMemorySampler(handle);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        running = false;
        thread.Join();
    }
}
