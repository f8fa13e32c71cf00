using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// Brings one blob into the cache: appends to blobs/{etag}.incomplete, resuming with a Range request after a dropped
/// connection (also one a killed build left behind), checks the size and, for LFS files, the sha256 the etag names; a
/// blob that does not match is deleted and fetched again once, then refused. Only a verified blob is renamed into place.
/// </summary>
sealed class BlobDownloader(HubHttp http, HubSettings settings)
{
    const int BufferSize = 1 << 20;

    public async Task DownloadAsync(RepoId repo, string path, HubFileMetadata meta, string incomplete, string blob,
        Action<HubProgress>? progress, CancellationToken cancel)
    {
        var expectSha256 = IsSha256(meta.Etag) ? meta.Etag : null;
        for (var pass = 1; ; pass++)
        {
            var sha256 = await FetchAsync(repo, path, meta, incomplete, progress, cancel);
            var size = new FileInfo(incomplete).Length;
            if (size == meta.Size && (expectSha256 is null || sha256 == expectSha256))
            {
                File.Move(incomplete, blob, overwrite: true);
                return;
            }
            File.Delete(incomplete);
            if (pass >= 2)
                throw new HubException(ErrorCodes.HubChecksumMismatch,
                    $"{repo}/{path}: the downloaded file does not match the Hub's record (size {size} vs {meta.Size}, sha256 {sha256} vs {expectSha256 ?? "-"}), twice. Nothing was kept; try again later, or check a proxy rewriting downloads.");
        }
    }

    /// <summary>Completes the .incomplete file; returns its sha256 (hex), hashing any prefix left by an earlier attempt first.</summary>
    async Task<string> FetchAsync(RepoId repo, string path, HubFileMetadata meta, string incomplete, Action<HubProgress>? progress, CancellationToken cancel)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var file = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, BufferSize, useAsync: true);
        var buffer = new byte[BufferSize];
        // A prefix from a dropped connection or an earlier process: count it into the hash, then resume after it.
        file.Position = 0;
        for (int read; (read = await file.ReadAsync(buffer, cancel)) > 0;) hash.AppendData(buffer, 0, read);

        var clock = Stopwatch.StartNew();
        long startBytes = file.Length, lastReport = 0;
        var failures = 0;
        while (file.Length < meta.Size)
        {
            var from = file.Length;
            try
            {
                using var response = await http.SendAsync(u =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Get, u);
                    if (from > 0) request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(from, null);
                    return request;
                }, meta.Location, RedirectMode.All, cancel);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable) break;
                if (!response.IsSuccessStatusCode) throw HubErrors.FromResponse(response, settings.Endpoint, repo, meta.Commit, path);
                if (from > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                {
                    // The server ignored Range: start over from byte 0.
                    file.SetLength(0);
                    hash.GetHashAndReset();
                }
                file.Position = file.Length;
                await using var body = await response.Content.ReadAsStreamAsync(cancel);
                for (int read; (read = await body.ReadAsync(buffer, cancel)) > 0;)
                {
                    await file.WriteAsync(buffer.AsMemory(0, read), cancel);
                    hash.AppendData(buffer, 0, read);
                    failures = 0;
                    if (progress is not null && clock.ElapsedMilliseconds - lastReport >= 250)
                    {
                        lastReport = clock.ElapsedMilliseconds;
                        progress(Progress(path, file.Length, meta.Size, startBytes, clock.Elapsed));
                    }
                }
                if (file.Length < meta.Size) throw new IOException("The connection closed before the end of the file.");
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancel.IsCancellationRequested)
            {
                // A dropped connection: resume from what arrived. Attempts count only failures in a row, so a long
                // download cut many times still completes while it keeps making progress.
                await file.FlushAsync(cancel);
                if (++failures >= settings.MaxAttempts)
                    throw new HubException(ErrorCodes.HubUnreachable,
                        $"{repo}/{path}: the download kept failing ({e.Message}) at byte {file.Length} of {meta.Size}. Build again to resume; what arrived is kept in the cache.", e);
                await Task.Delay(http.Backoff(failures), cancel);
            }
        }
        await file.FlushAsync(cancel);
        progress?.Invoke(Progress(path, file.Length, meta.Size, startBytes, clock.Elapsed));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static HubProgress Progress(string path, long bytes, long total, long startBytes, TimeSpan elapsed)
    {
        var rate = elapsed.TotalSeconds > 0 ? (bytes - startBytes) / elapsed.TotalSeconds : 0;
        return new HubProgress(path, bytes, total, rate, rate > 0 ? (total - bytes) / rate : null);
    }

    public static bool IsSha256(string etag) => etag.Length == 64 && etag.All(char.IsAsciiHexDigitLower);
}
