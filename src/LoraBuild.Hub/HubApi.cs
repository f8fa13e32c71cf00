using System.Text.Json;
using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// The two JSON calls a snapshot needs: a revision's commit (/api/{models|datasets}/{id}/revision/{rev}, whose "sha"
/// is the commit) and the files at that commit (/api/.../tree/{commit}?recursive=true, paged by Link headers; an LFS
/// file carries its sha256 as lfs.oid).
/// </summary>
sealed class HubApi(HubHttp http, HubSettings settings)
{
    public async Task<string> ResolveCommitAsync(RepoId repo, string revision, CancellationToken cancel)
    {
        var url = http.Url($"api/{repo.Type.ApiSegment()}/{repo.Id}/revision/{Uri.EscapeDataString(revision)}");
        using var json = await GetJsonAsync(url, repo, revision, cancel);
        if (!json.RootElement.TryGetProperty("sha", out var sha) || sha.GetString() is not { } commit || !HubReference.IsCommitHash(commit))
            throw new HubException(ErrorCodes.HubProtocol, $"{repo}@{revision}: the Hub's answer at {url} has no commit (\"sha\").");
        return commit;
    }

    public async Task<IReadOnlyList<HubFile>> ListFilesAsync(RepoId repo, string commit, CancellationToken cancel)
    {
        var files = new List<HubFile>();
        Uri? url = http.Url($"api/{repo.Type.ApiSegment()}/{repo.Id}/tree/{commit}?recursive=true&expand=false");
        while (url is not null)
        {
            using var response = await http.SendAsync(u => new HttpRequestMessage(HttpMethod.Get, u), url, RedirectMode.All, cancel);
            if (!response.IsSuccessStatusCode) throw HubErrors.FromResponse(response, settings.Endpoint, repo, commit, null);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
            foreach (var entry in json.RootElement.EnumerateArray())
            {
                if (entry.GetProperty("type").GetString() != "file") continue;
                var path = entry.GetProperty("path").GetString()!;
                var size = entry.GetProperty("size").GetInt64();
                if (entry.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                {
                    var sha256 = lfs.GetProperty("oid").GetString()!;
                    files.Add(new HubFile(path, sha256, lfs.TryGetProperty("size", out var s) ? s.GetInt64() : size, sha256));
                }
                else files.Add(new HubFile(path, entry.GetProperty("oid").GetString()!, size, null));
            }
            url = NextPage(response);
        }
        return files;
    }

    async Task<JsonDocument> GetJsonAsync(Uri url, RepoId repo, string revision, CancellationToken cancel)
    {
        using var response = await http.SendAsync(u => new HttpRequestMessage(HttpMethod.Get, u), url, RedirectMode.All, cancel);
        if (!response.IsSuccessStatusCode) throw HubErrors.FromResponse(response, settings.Endpoint, repo, revision, null);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
    }

    /// <summary>The Link header's rel="next" URL, how the Hub pages long trees.</summary>
    static Uri? NextPage(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links)) return null;
        foreach (var part in string.Join(",", links).Split(','))
        {
            var pieces = part.Split(';');
            if (pieces.Length < 2 || !pieces.Skip(1).Any(p => p.Trim() is "rel=\"next\"" or "rel=next")) continue;
            return new Uri(pieces[0].Trim().TrimStart('<').TrimEnd('>'));
        }
        return null;
    }
}
