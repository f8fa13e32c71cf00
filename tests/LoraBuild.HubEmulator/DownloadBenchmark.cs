namespace LoraBuild.HubEmulator;

static class DownloadBenchmark
{
    public static Task<int> RunAsync(string[] args) => Task.FromResult(1);
}
