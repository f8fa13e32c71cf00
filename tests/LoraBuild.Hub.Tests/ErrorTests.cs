using LoraBuild.Diagnostics;

namespace LoraBuild.Hub.Tests;

public sealed class ErrorTests
{
    static async Task<HubException> Fails(Func<Task> action) => await Assert.ThrowsAsync<HubException>(action);

    [Fact]
    public async Task A_gated_repo_without_a_token_is_LB0403_asking_to_log_in()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Emulator.Repo("model", TestHub.ModelId).Gated = true;
        using var client = hub.Client();

        var error = await Fails(() => client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted));

        Assert.Equal(ErrorCodes.HubGatedRepo, error.Code);
        Assert.Contains("HTTP 401", error.Message);
        Assert.Contains("restricted", error.Message); // the Hub's own words
        Assert.Contains("HF_TOKEN", error.Message);
    }

    [Fact]
    public async Task A_gated_repo_with_a_token_not_yet_accepted_is_LB0403_asking_to_accept_the_conditions()
    {
        await using var hub = await TestHub.StartAsync();
        var repo = hub.Emulator.Repo("model", TestHub.ModelId);
        repo.Gated = true;
        repo.AllowedTokens.Add("hf_accepted");
        using var refused = hub.Client(token: "hf_other");

        var error = await Fails(() => refused.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted));
        Assert.Equal(ErrorCodes.HubGatedRepo, error.Code);
        Assert.Contains("HTTP 403", error.Message);
        Assert.Contains($"{hub.Emulator.HubUrl}/test-org/tiny-llama", error.Message);

        using var accepted = hub.Client(token: "hf_accepted");
        var snapshot = await accepted.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted);
        Assert.Equal(5, snapshot.Files.Count);
    }

    [Fact]
    public async Task A_missing_repo_revision_or_file_is_its_own_404_code()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = hub.Client();

        var repo = await Fails(() => client.DownloadSnapshotAsync(new RepoId(RepoType.Model, "test-org/no-such-model"), "main", ModelFiles.IsWanted));
        Assert.Equal(ErrorCodes.HubRepoNotFound, repo.Code);
        Assert.Contains("Repository not found", repo.Message);
        Assert.Contains("Check the id", repo.Message);

        var revision = await Fails(() => client.DownloadSnapshotAsync(TestHub.Model, "v9", ModelFiles.IsWanted));
        Assert.Equal(ErrorCodes.HubRevisionNotFound, revision.Code);
        Assert.Contains("'v9'", revision.Message);

        var file = await Fails(() => client.DownloadFileAsync(TestHub.Model, "main", "model-00002-of-00002.safetensors"));
        Assert.Equal(ErrorCodes.HubFileNotFound, file.Code);
        Assert.Contains("model-00002-of-00002.safetensors", file.Message);
    }

    [Fact]
    public async Task Offline_without_the_model_in_the_cache_is_LB0405_and_sends_nothing()
    {
        await using var hub = await TestHub.StartAsync();
        using var client = hub.Client(offline: true);

        var error = await Fails(() => client.DownloadSnapshotAsync(TestHub.Model, "main", ModelFiles.IsWanted));

        Assert.Equal(ErrorCodes.HubOfflineNotCached, error.Code);
        Assert.Contains("HF_HUB_OFFLINE", error.Message);
        Assert.Empty(hub.Emulator.Requests);
    }

    [Fact]
    public async Task A_hub_that_keeps_failing_is_LB0406_after_the_retries()
    {
        await using var hub = await TestHub.StartAsync();
        hub.Emulator.Faults.FailNext("/revision/", 100, 503);
        using var client = hub.Client();

        var error = await Fails(() => client.ResolveCommitAsync(TestHub.Model, "main"));

        Assert.Equal(ErrorCodes.HubUnreachable, error.Code);
        Assert.Contains("HTTP 503", error.Message);
        Assert.Equal(client.Settings.MaxAttempts, hub.Emulator.Requests.Count(r => r.Status == 503));
    }
}
