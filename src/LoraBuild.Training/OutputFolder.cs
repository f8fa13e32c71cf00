using System.Globalization;
using LoraBuild.Diagnostics;
using LoraBuild.IO;

namespace LoraBuild.Training;

/// <summary>
/// A run's output folder, checked before any work: it must be a folder (not a file), writable, and held by one run at
/// a time (a lock file, released by the kernel however the holder dies). A new run removes the previous run's
/// completion marker first, so an interrupted run never leaves an older run.json vouching for the folder.
/// </summary>
public sealed class OutputFolder : IDisposable
{
    public const string LockFile = OutputLock.LockFile;
    public const string LockOwnerFile = OutputLock.OwnerFile;

    readonly FileStream lockStream;

    OutputFolder(string path, FileStream lockStream)
    {
        Path = path;
        this.lockStream = lockStream;
    }

    public string Path { get; }

    /// <summary>Checks and locks <paramref name="output"/>, then removes <paramref name="completionMarker"/> from it.</summary>
    public static OutputFolder Open(string output, string completionMarker)
    {
        var full = System.IO.Path.GetFullPath(output);
        if (File.Exists(full))
            throw new LoraBuildException(ErrorCodes.OutputInvalid, "The output path names an existing file; it must be a folder (or not exist yet).", full);
        try
        {
            Directory.CreateDirectory(full);
            // A probe file: a read-only folder or file system is found now, not after hours of training.
            var probe = System.IO.Path.Combine(full, $".write-probe.{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LoraBuildException(ErrorCodes.OutputInvalid, $"The output folder cannot be written: {e.Message}", full);
        }

        var stream = OutputLock.TryAcquire(full, "lorabuild train", out var owner)
            ?? throw new LoraBuildException(ErrorCodes.OutputLocked,
                $"Another run is writing this output folder ({owner}). Wait for it to finish (the next build then finds the adapter up to date) or stop it.", full);
        try
        {
            var marker = System.IO.Path.Combine(full, completionMarker);
            if (File.Exists(marker)) File.Delete(marker);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new OutputFolder(full, stream);
    }

    /// <summary>
    /// Refuses to start when the file system cannot hold what the run will write: <paramref name="bytesNeeded"/> (the
    /// checkpoints kept at once plus the final output), with a margin.
    /// </summary>
    public void CheckFreeSpace(long bytesNeeded)
    {
        long available;
        try
        {
            available = new DriveInfo(Path).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return; // Unknown free space: the checkpoint writer still reports a full disk as LB0137.
        }
        if (available < bytesNeeded)
            throw new LoraBuildException(ErrorCodes.DiskFull,
                $"The output file system has {Format(available)} free but this run writes about {Format(bytesNeeded)} (checkpoints and the final output). Free some space first.", Path);
    }

    static string Format(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

    public void Dispose()
    {
        try
        {
            File.Delete(System.IO.Path.Combine(Path, LockOwnerFile));
        }
        catch (IOException)
        {
        }
        lockStream.Dispose();
    }
}
