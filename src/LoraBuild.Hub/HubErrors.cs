using System.Net;
using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// The Hub's refusals as coded errors: it names the cause in X-Error-Code (RepoNotFound, RevisionNotFound,
/// EntryNotFound, GatedRepo) and explains in X-Error-Message; the message adds what the user can do about it.
/// </summary>
static class HubErrors
{
    public static HubException FromResponse(HttpResponseMessage response, string endpoint, RepoId repo, string? revision, string? path)
    {
        var code = Header(response, "X-Error-Code");
        var hubMessage = Header(response, "X-Error-Message");
        var said = hubMessage is null ? $"HTTP {(int)response.StatusCode}" : $"HTTP {(int)response.StatusCode}: {hubMessage}";
        var page = $"{endpoint}/{repo.Type.ResolvePrefix()}{repo.Id}";
        var status = response.StatusCode;

        if (code == "GatedRepo")
            return status == HttpStatusCode.Unauthorized
                ? new HubException(ErrorCodes.HubGatedRepo,
                    $"{repo} is gated ({said}). Log in: set HF_TOKEN or run `hf auth login`, after accepting its conditions at {page}.")
                : new HubException(ErrorCodes.HubGatedRepo,
                    $"{repo} is gated and this token has no access yet ({said}). Accept its conditions at {page}, then build again.");
        if (code == "RepoNotFound" || (code is null && path is null && status == HttpStatusCode.NotFound))
            return new HubException(ErrorCodes.HubRepoNotFound,
                $"Repository '{repo}' was not found on {endpoint} ({said}). Check the id; if it is private, set HF_TOKEN or run `hf auth login`.");
        if (code == "RevisionNotFound")
            return new HubException(ErrorCodes.HubRevisionNotFound,
                $"Revision '{revision}' of {repo} was not found ({said}). Check the branch, tag or commit (BaseModelRevision, revision_of_model, or @rev).");
        if (code == "EntryNotFound" || status == HttpStatusCode.NotFound)
            return new HubException(ErrorCodes.HubFileNotFound,
                $"File '{path}' of {repo} at '{revision}' was not found ({said}).");
        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            return new HubException(ErrorCodes.HubUnauthorized,
                $"{repo}: access refused ({said}). Set HF_TOKEN (or run `hf auth login`) with a token that can read this repository.");
        if (HubHttp.IsTransient(status))
            return new HubException(ErrorCodes.HubUnreachable,
                $"{repo}: the Hub at {endpoint} kept failing ({said}) through every retry. Try again later; set HF_HUB_OFFLINE=1 to build from the cache.");
        return new HubException(ErrorCodes.HubProtocol, $"{repo}: unexpected answer from {endpoint} ({said}).");
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
