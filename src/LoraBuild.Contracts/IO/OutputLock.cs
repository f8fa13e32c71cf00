using System.Globalization;

namespace LoraBuild.IO;

/// <summary>
/// The lock a run folder is written under, by the worker's training run and by the SDK's cache-feed restore alike: an
/// exclusive advisory lock on <see cref="LockFile"/> (flock, dropped by the kernel however its holder dies), with who
/// holds it in <see cref="OwnerFile"/> for the message the other side prints.
/// </summary>
public static class OutputLock
{
    public const string LockFile = "lorabuild.lock";
    public const string OwnerFile = "lorabuild.lock.owner";

    /// <summary>Takes the lock of <paramref name="folder"/> (created if needed), or returns null and who holds it.</summary>
    public static FileStream? TryAcquire(string folder, string holder, out string owner)
    {
        Directory.CreateDirectory(folder);
        FileStream stream;
        try
        {
            stream = new FileStream(Path.Combine(folder, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var ownerPath = Path.Combine(folder, OwnerFile);
            owner = File.Exists(ownerPath) ? File.ReadAllText(ownerPath).Trim() : "another process";
            return null;
        }
        owner = string.Create(CultureInfo.InvariantCulture,
            $"pid {Environment.ProcessId} on {Environment.MachineName}, started {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z: {holder}");
        try
        {
            File.WriteAllText(Path.Combine(folder, OwnerFile), owner);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return stream;
    }
}
