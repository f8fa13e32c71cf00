namespace LoraBuild.Hub;

/// <summary>
/// Where the Hub is, where its cache lives, the token and whether the network may be used: the environment variables
/// huggingface_hub reads (constants.py), with the same defaults, so Python, JS and LoraBuild share one cache.
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>HF_ENDPOINT: the Hub's base URL, without a trailing slash.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>HF_HUB_CACHE (else HF_HOME/hub, else ~/.cache/huggingface/hub): the folder holding models--org--name/.</summary>
    public required string CacheDir { get; init; }

    /// <summary>HF_TOKEN, else the token file HF_HOME/token (written by `hf auth login`); null when neither is set.</summary>
    public string? Token { get; init; }

    /// <summary>HF_HUB_OFFLINE=1: never call the Hub; use the cache only.</summary>
    public bool Offline { get; init; }

    /// <summary>Attempts per request when the Hub answers 429/5xx or the connection drops.</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>The first back-off delay; each retry doubles it (tests shorten it).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public static HubSettings FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    public static HubSettings FromEnvironment(Func<string, string?> env)
    {
        var home = NonEmpty(env("HF_HOME")) ?? Path.Combine(
            NonEmpty(env("XDG_CACHE_HOME")) ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "huggingface");
        home = ExpandUser(home);
        var cache = ExpandUser(NonEmpty(env("HF_HUB_CACHE")) ?? NonEmpty(env("HUGGINGFACE_HUB_CACHE")) ?? Path.Combine(home, "hub"));
        var token = NonEmpty(env("HF_TOKEN")) ?? NonEmpty(env("HUGGING_FACE_HUB_TOKEN")) ?? ReadTokenFile(NonEmpty(env("HF_TOKEN_PATH")) ?? Path.Combine(home, "token"));
        return new HubSettings
        {
            Endpoint = (NonEmpty(env("HF_ENDPOINT")) ?? DefaultEndpoint).TrimEnd('/'),
            CacheDir = cache,
            Token = token,
            Offline = IsTrue(env("HF_HUB_OFFLINE")),
        };
    }

    /// <summary>huggingface_hub's truthy values for boolean environment variables.</summary>
    public static bool IsTrue(string? value) =>
        value is not null && value.Trim().ToLowerInvariant() is "1" or "on" or "yes" or "true";

    static string? ReadTokenFile(string path)
    {
        try { return File.Exists(path) ? NonEmpty(File.ReadAllText(path).Trim()) : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    static string ExpandUser(string path) =>
        path == "~" || path.StartsWith("~/") ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..] : path;

    static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
