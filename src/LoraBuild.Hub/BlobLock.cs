namespace LoraBuild.Hub;

/// <summary>
/// The per-blob lock huggingface_hub takes (.locks/.../{etag}.lock, a filelock): an exclusive open, which .NET maps to
/// flock on Unix, so two builds on one machine (or two downloads in one process) never write the same blob at once.
/// The lock dies with its process, so a killed build never leaves it held.
/// </summary>
sealed class BlobLock : IDisposable
{
    readonly FileStream stream;

    BlobLock(FileStream stream) => this.stream = stream;

    public static async Task<BlobLock> AcquireAsync(string path, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new BlobLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException)
            {
                // Held by another download of the same blob: wait for it, then find the blob already there.
                await Task.Delay(100, cancel);
            }
        }
    }

    public void Dispose() => stream.Dispose();
}
