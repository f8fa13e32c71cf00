using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LoraBuild.HubEmulator;

/// <summary>
/// A Hugging Face Hub on 127.0.0.1 that answers as the real one does, for the endpoints clients use to download:
/// /api/{models|datasets}/{id}/revision/{rev}, .../tree/{rev}, .../paths-info/{rev} (huggingface.js), and
/// /[datasets/]{id}/resolve/{rev}/{path} with the HEAD metadata headers (X-Repo-Commit, X-Linked-Etag, X-Linked-Size).
/// LFS files answer with a 302 to a second host (the "CDN"), which serves the bytes with Range. Errors carry
/// X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message. <see cref="Faults"/>
/// injects 503s, dropped connections and corrupted bytes.
/// </summary>
public sealed class HubEmulator : IAsyncDisposable
{
    readonly ConcurrentDictionary<string, EmulatedRepo> repos = new();
    readonly WebApplication hub;
    readonly WebApplication cdn;

    HubEmulator(WebApplication hub, WebApplication cdn) => (this.hub, this.cdn) = (hub, cdn);

    public string HubUrl { get; private set; } = "";
    public string CdnUrl { get; private set; } = "";
    public HubFaults Faults { get; } = new();
    public ConcurrentQueue<HubRequest> Requests { get; } = new();

    public static async Task<HubEmulator> StartAsync(int hubPort = 0, int cdnPort = 0)
    {
        HubEmulator? emulator = null;
        var hub = Build(hubPort, ctx => emulator!.ServeHubAsync(ctx));
        var cdn = Build(cdnPort, ctx => emulator!.ServeCdnAsync(ctx));
        emulator = new HubEmulator(hub, cdn);
        await hub.StartAsync();
        await cdn.StartAsync();
        emulator.HubUrl = Address(hub);
        emulator.CdnUrl = Address(cdn);
        return emulator;
    }

    static WebApplication Build(int port, RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(handler);
        return app;
    }

    static string Address(WebApplication app) =>
        app.Services.GetService(typeof(Microsoft.AspNetCore.Hosting.Server.IServer)) is Microsoft.AspNetCore.Hosting.Server.IServer server
            ? server.Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::1]", "127.0.0.1")
            : throw new InvalidOperationException("Kestrel has no address.");

    /// <summary>Serves a folder as model repo <paramref name="id"/>; returns the commit. Pushing again moves the branch.</summary>
    public string AddModel(string id, string folder, string branch = "main") => Push("model", id, folder, branch);

    public string AddDataset(string id, string folder, string branch = "main") => Push("dataset", id, folder, branch);

    public string Push(string type, string id, string folder, string branch = "main") =>
        repos.GetOrAdd(Key(type, id), _ => new EmulatedRepo(type, id)).Push(folder, branch).Sha;

    public EmulatedRepo Repo(string type, string id) => repos[Key(type, id)];

    static string Key(string type, string id) => type + "s/" + id;

    // ---- the Hub host -------------------------------------------------------------------------------------------

    async Task ServeHubAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        Record("hub", ctx);
        if (Faults.TakeFailure(path) is { } failure)
        {
            await ErrorAsync(ctx, failure, null, "Service temporarily unavailable (injected).");
            return;
        }
        if (path.StartsWith("/api/models/") || path.StartsWith("/api/datasets/")) await ServeApiAsync(ctx, path);
        else await ServeResolveAsync(ctx, path);
    }

    async Task ServeApiAsync(HttpContext ctx, string path)
    {
        // /api/{type}s/{org}/{name}/{action}/{rev}[/{path}]
        var parts = path.Split('/', 7, StringSplitOptions.None);
        if (parts.Length < 7) { await ErrorAsync(ctx, 404, null, "Not found"); return; }
        var type = parts[2].TrimEnd('s');
        var id = parts[3] + "/" + parts[4];
        var action = parts[5];
        var rest = Uri.UnescapeDataString(parts[6]);
        if (await AccessAsync(ctx, type, id) is not { } repo) return;

        var slash = action == "tree" ? rest.IndexOf('/') : -1;
        var revision = slash < 0 ? rest : rest[..slash];
        var under = slash < 0 ? "" : rest[(slash + 1)..];
        if (repo.Resolve(revision) is not { } commit)
        {
            await ErrorAsync(ctx, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }
        switch (action)
        {
            case "revision":
                await JsonAsync(ctx, new Dictionary<string, object?>
                {
                    ["_id"] = commit.Sha[..24], ["id"] = repo.Id, ["sha"] = commit.Sha, ["private"] = false,
                    ["gated"] = repo.Gated ? "auto" : false, ["downloads"] = 0, ["likes"] = 0,
                    ["lastModified"] = commit.Date.ToString("O"), ["pipeline_tag"] = null,
                    ["siblings"] = commit.Files.Select(f => new Dictionary<string, object> { ["rfilename"] = f.Path }).ToList(),
                });
                break;
            case "tree":
                var recursive = ctx.Request.Query["recursive"] == "true";
                await JsonAsync(ctx, TreeEntries(commit, under, recursive));
                break;
            case "paths-info" when ctx.Request.Method == "POST":
                using (var body = await JsonDocument.ParseAsync(ctx.Request.Body))
                {
                    var wanted = body.RootElement.GetProperty("paths").EnumerateArray().Select(p => p.GetString()!).ToHashSet();
                    await JsonAsync(ctx, commit.Files.Where(f => wanted.Contains(f.Path)).Select(f =>
                    {
                        var entry = FileEntry(f);
                        entry["lastCommit"] = new Dictionary<string, object> { ["id"] = commit.Sha, ["title"] = "commit", ["date"] = commit.Date.ToString("O") };
                        return entry;
                    }).ToList());
                }
                break;
            default:
                await ErrorAsync(ctx, 404, null, "Not found");
                break;
        }
    }

    static List<Dictionary<string, object>> TreeEntries(EmulatedCommit commit, string under, bool recursive)
    {
        var prefix = under.Length == 0 ? "" : under.TrimEnd('/') + "/";
        var entries = new List<Dictionary<string, object>>();
        var folders = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in commit.Files.Where(f => f.Path.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var relative = file.Path[prefix.Length..];
            var segments = relative.Split('/');
            for (var i = 1; i < segments.Length && (recursive || i == 1); i++) folders.Add(prefix + string.Join('/', segments[..i]));
            if (recursive || segments.Length == 1) entries.Add(FileEntry(file));
        }
        entries.InsertRange(0, folders.Select(f => new Dictionary<string, object> { ["type"] = "directory", ["oid"] = new string('0', 40), ["size"] = 0, ["path"] = f }));
        return entries;
    }

    static Dictionary<string, object> FileEntry(EmulatedFile f)
    {
        var entry = new Dictionary<string, object> { ["type"] = "file", ["oid"] = f.GitOid, ["size"] = f.Size, ["path"] = f.Path };
        if (f.Sha256 is { } sha) entry["lfs"] = new Dictionary<string, object> { ["oid"] = sha, ["size"] = f.Size, ["pointerSize"] = 134 };
        return entry;
    }

    async Task ServeResolveAsync(HttpContext ctx, string path)
    {
        // /[datasets/]{org}/{name}/resolve/{rev}/{file...}
        var type = "model";
        if (path.StartsWith("/datasets/")) { type = "dataset"; path = path["/datasets".Length..]; }
        var parts = path.Split('/', 6);
        if (parts.Length < 6 || parts[3] != "resolve") { await ErrorAsync(ctx, 404, null, "Not found"); return; }
        var id = parts[1] + "/" + parts[2];
        var revision = Uri.UnescapeDataString(parts[4]);
        var filePath = Uri.UnescapeDataString(parts[5]);
        if (await AccessAsync(ctx, type, id) is not { } repo) return;
        if (repo.Resolve(revision) is not { } commit)
        {
            await ErrorAsync(ctx, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }
        if (commit.Find(filePath) is not { } file)
        {
            await ErrorAsync(ctx, 404, "EntryNotFound", $"Entry not found: {filePath}");
            return;
        }
        var headers = ctx.Response.Headers;
        headers["X-Repo-Commit"] = commit.Sha;
        if (file.IsLfs)
        {
            headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
            headers["X-Linked-Size"] = file.Size.ToString();
            headers.ETag = $"\"{file.Sha256}\"";
            headers.Location = $"{CdnUrl}/cdn/{type}s--{id.Replace("/", "--")}/{file.Sha256}?file={Uri.EscapeDataString(filePath)}";
            ctx.Response.StatusCode = 302;
            return;
        }
        headers.ETag = $"\"{file.GitOid}\"";
        await ServeBytesAsync(ctx, file);
    }

    /// <summary>The repo, or an answer as the Hub gives it: 404 RepoNotFound, 401/403 GatedRepo.</summary>
    async Task<EmulatedRepo?> AccessAsync(HttpContext ctx, string type, string id)
    {
        if (!repos.TryGetValue(Key(type, id), out var repo))
        {
            await ErrorAsync(ctx, 404, "RepoNotFound", "Repository not found");
            return null;
        }
        if (!repo.Gated) return repo;
        var auth = ctx.Request.Headers.Authorization.ToString();
        if (auth.Length == 0)
        {
            await ErrorAsync(ctx, 401, "GatedRepo", $"Access to model {id} is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return null;
        }
        if (!repo.AllowedTokens.Contains(auth.Replace("Bearer ", "")))
        {
            await ErrorAsync(ctx, 403, "GatedRepo", $"Access to model {id} is restricted and you are not in the authorized list. Visit https://huggingface.co/{id} to ask for access.");
            return null;
        }
        return repo;
    }

    // ---- the CDN host -------------------------------------------------------------------------------------------

    async Task ServeCdnAsync(HttpContext ctx)
    {
        Record("cdn", ctx);
        // /cdn/{repo folder}/{sha256}
        var parts = (ctx.Request.Path.Value ?? "").Split('/');
        var file = parts.Length == 4 && parts[1] == "cdn"
            ? repos.Values.Where(r => $"{r.Type}s--{r.Id.Replace("/", "--")}" == parts[2])
                .SelectMany(r => r.Commits.Values).SelectMany(c => c.Files).FirstOrDefault(f => f.Sha256 == parts[3])
            : null;
        if (file is null)
        {
            ctx.Response.StatusCode = 404;
            return;
        }
        if (Faults.TakeFailure(ctx.Request.Path.Value!) is { } failure)
        {
            ctx.Response.StatusCode = failure;
            return;
        }
        ctx.Response.Headers.ETag = $"\"{file.Sha256}\"";
        await ServeBytesAsync(ctx, file);
    }

    /// <summary>The file's bytes with Range support, and the armed faults: a dropped connection, a flipped byte.</summary>
    async Task ServeBytesAsync(HttpContext ctx, EmulatedFile file)
    {
        var response = ctx.Response;
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = "application/octet-stream";
        long from = 0, to = file.Size - 1;
        var range = ctx.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes="))
        {
            var spec = range["bytes=".Length..].Split('-');
            from = long.Parse(spec[0]);
            if (spec[1].Length > 0) to = Math.Min(long.Parse(spec[1]), file.Size - 1);
            if (from >= file.Size)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{file.Size}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {from}-{to}/{file.Size}";
        }
        response.ContentLength = to - from + 1;
        if (HttpMethods.IsHead(ctx.Request.Method)) return;

        var cutAfter = Faults.TakeCut(file.Path);
        var corrupt = Faults.TakeCorruption(file.Path);
        await using var source = new FileStream(file.Source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        source.Position = from;
        var buffer = new byte[1 << 20];
        long remaining = to - from + 1, sent = 0;
        while (remaining > 0)
        {
            var want = (int)Math.Min(buffer.Length, remaining);
            if (cutAfter is { } c) want = (int)Math.Min(want, Math.Max(0, c - sent));
            if (want == 0)
            {
                // The dropped connection: what was sent reaches the client, then the socket closes mid-body.
                await response.Body.FlushAsync();
                ctx.Abort();
                return;
            }
            var read = await source.ReadAsync(buffer.AsMemory(0, want));
            if (read == 0) break;
            if (corrupt && sent == 0) buffer[0] ^= 0xFF;
            await response.Body.WriteAsync(buffer.AsMemory(0, read));
            if (Faults.ChunkDelay > TimeSpan.Zero) await Task.Delay(Faults.ChunkDelay);
            sent += read;
            remaining -= read;
        }
    }

    static async Task ErrorAsync(HttpContext ctx, int status, string? code, string message)
    {
        ctx.Response.StatusCode = status;
        if (code is not null) ctx.Response.Headers["X-Error-Code"] = code;
        ctx.Response.Headers["X-Error-Message"] = message;
        if (!HttpMethods.IsHead(ctx.Request.Method)) await ctx.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message });
    }

    static Task JsonAsync(HttpContext ctx, object value)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(value));
    }

    void Record(string host, HttpContext ctx)
    {
        var auth = ctx.Request.Headers.Authorization.ToString();
        var range = ctx.Request.Headers.Range.ToString();
        var request = new HubRequest(host, ctx.Request.Method, ctx.Request.Path.Value ?? "", auth.Length == 0 ? null : auth, range.Length == 0 ? null : range);
        Requests.Enqueue(request);
        ctx.Response.OnStarting(() =>
        {
            request.Status = ctx.Response.StatusCode;
            return Task.CompletedTask;
        });
    }

    public async ValueTask DisposeAsync()
    {
        await hub.StopAsync();
        await cdn.StopAsync();
        await hub.DisposeAsync();
        await cdn.DisposeAsync();
    }
}
