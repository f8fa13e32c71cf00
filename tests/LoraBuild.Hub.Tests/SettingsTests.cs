namespace LoraBuild.Hub.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void Environment_variables_resolve_as_huggingface_hub_does()
    {
        var home = Path.Combine(Path.GetTempPath(), "lorabuild-hfhome-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(home);
        try
        {
            File.WriteAllText(Path.Combine(home, "token"), "hf_from_file\n");
            var env = new Dictionary<string, string?> { ["HF_HOME"] = home, ["HF_HUB_OFFLINE"] = "1", ["HF_ENDPOINT"] = "http://127.0.0.1:9/" };
            var fromHome = HubSettings.FromEnvironment(k => env.GetValueOrDefault(k));
            Assert.Equal(Path.Combine(home, "hub"), fromHome.CacheDir);
            Assert.Equal("hf_from_file", fromHome.Token);
            Assert.True(fromHome.Offline);
            Assert.Equal("http://127.0.0.1:9", fromHome.Endpoint);

            env["HF_HUB_CACHE"] = "/tmp/elsewhere";
            env["HF_TOKEN"] = "hf_env";
            env["HF_HUB_OFFLINE"] = "0";
            var overridden = HubSettings.FromEnvironment(k => env.GetValueOrDefault(k));
            Assert.Equal("/tmp/elsewhere", overridden.CacheDir);
            Assert.Equal("hf_env", overridden.Token);
            Assert.False(overridden.Offline);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public void Defaults_are_the_huggingface_cache_and_hub()
    {
        var settings = HubSettings.FromEnvironment(_ => null);
        Assert.Equal(HubSettings.DefaultEndpoint, settings.Endpoint);
        Assert.EndsWith(Path.Combine(".cache", "huggingface", "hub"), settings.CacheDir);
        Assert.Null(settings.Token);
    }

    [Theory]
    [InlineData("Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B", "main")]
    [InlineData("test-org/tiny-llama@v1.0", "test-org/tiny-llama", "v1.0")]
    [InlineData("meta-llama/Llama-3.2-1B@0123456789abcdef0123456789abcdef01234567", "meta-llama/Llama-3.2-1B", "0123456789abcdef0123456789abcdef01234567")]
    public void Hub_references_parse(string text, string id, string revision)
    {
        var reference = HubReference.TryParse(text);
        Assert.NotNull(reference);
        Assert.Equal(id, reference.Repo.Id);
        Assert.Equal(revision, reference.Revision);
    }

    [Theory]
    [InlineData("./models/tiny")]
    [InlineData("/abs/model")]
    [InlineData("base")]
    [InlineData("a/b/c")]
    [InlineData("org/bad--name")]
    [InlineData("~/models/x")]
    public void Paths_are_not_hub_references(string text) => Assert.Null(HubReference.TryParse(text));

    [Fact]
    public void An_existing_folder_named_like_an_id_stays_a_folder()
    {
        var cwd = Path.Combine(Path.GetTempPath(), "lorabuild-ref-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(cwd, "org", "name"));
        try
        {
            Assert.Null(HubReference.TryParse(Path.Combine(cwd, "org", "name")));
            Assert.Equal("models--org--name", HubReference.TryParse("org/name")!.Repo.CacheFolderName);
        }
        finally
        {
            Directory.Delete(cwd, recursive: true);
        }
    }
}
