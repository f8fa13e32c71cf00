using System.Net;
using System.Net.Http.Headers;
using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// HTTP as huggingface_hub speaks it: the token goes to the Hub's own host only (a redirect to a CDN on another host is
/// followed without it), 429 and 5xx answers and dropped connections are retried with exponential back-off (honouring
/// Retry-After), everything else is the caller's to read.
/// </summary>
sealed class HubHttp : IDisposable
{
    readonly HttpClient client;
    readonly HubSettings settings;
    readonly Uri endpoint;

    public HubHttp(HubSettings settings, HttpMessageHandler? handler = null)
    {
        this.settings = settings;
        endpoint = new Uri(settings.Endpoint + "/");
        // Redirects are followed here, not by the handler, so the Authorization header never reaches another host.
        client = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("lorabuild", typeof(HubHttp).Assembly.GetName().Version?.ToString() ?? "1.0"));
    }

    public Uri Url(string relative) => new(endpoint, relative);

    /// <summary>
    /// Sends a request made by <paramref name="make"/> (called again for each attempt and redirect), retrying transient
    /// failures. <paramref name="followRedirects"/>: "all" follows any, "relative" only same-host ones (a HEAD reads the
    /// 302's own headers, as huggingface_hub does), "none" returns the 3xx.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(Func<Uri, HttpRequestMessage> make, Uri url, RedirectMode followRedirects, CancellationToken cancel)
    {
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage? response = null;
            try
            {
                response = await SendFollowingAsync(make, url, followRedirects, cancel);
                if (!IsTransient(response.StatusCode) || attempt >= settings.MaxAttempts) return response;
                var delay = RetryAfter(response) ?? Backoff(attempt);
                response.Dispose();
                await Task.Delay(delay, cancel);
            }
            catch (HttpRequestException e) when (!cancel.IsCancellationRequested)
            {
                response?.Dispose();
                if (attempt >= settings.MaxAttempts)
                    throw new HubException(ErrorCodes.HubUnreachable,
                        $"Could not reach the Hub at {settings.Endpoint} ({e.Message}) after {attempt} attempts. Check the network or HF_ENDPOINT; set HF_HUB_OFFLINE=1 to use the cache only.", e);
                await Task.Delay(Backoff(attempt), cancel);
            }
        }
    }

    async Task<HttpResponseMessage> SendFollowingAsync(Func<Uri, HttpRequestMessage> make, Uri url, RedirectMode mode, CancellationToken cancel)
    {
        for (var hop = 0; ; hop++)
        {
            var request = make(url);
            if (settings.Token is { } token && SameHost(url, endpoint))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            var status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || mode == RedirectMode.None || response.Headers.Location is not { } location || hop >= 10)
                return response;
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            if (mode == RedirectMode.Relative && !SameHost(next, url)) return response;
            response.Dispose();
            url = next;
        }
    }

    /// <summary>The back-off before attempt n+1: RetryDelay * 2^(n-1), capped at 30 s.</summary>
    public TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(30_000, settings.RetryDelay.TotalMilliseconds * Math.Pow(2, attempt - 1)));

    static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var delta = response.Headers.RetryAfter?.Delta;
        return delta is { } d && d <= TimeSpan.FromSeconds(60) ? d : null;
    }

    public static bool IsTransient(HttpStatusCode status) => status == HttpStatusCode.TooManyRequests || (int)status >= 500;

    static bool SameHost(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port && a.Scheme == b.Scheme;

    public void Dispose() => client.Dispose();
}

enum RedirectMode { All, Relative, None }
