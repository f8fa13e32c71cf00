namespace LoraBuild.Sdk.Tests;

/// <summary>MaxRegressionFromPrevious against the previous version of the same package in a real local folder feed.</summary>
public class RegressionGateTests
{
    const string AdapterWithRegressionGate = """
          <ItemGroup>
            <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" EvalDataset="data/spell-eval.jsonl" />
            <LoraEvalGate Include="speller" Metric="eval_loss" MaxRegressionFromPrevious="0.01" />
          </ItemGroup>
        """;

    [Fact]
    public void The_gate_passes_within_the_allowance_and_fails_beyond_it()
    {
        var feed = Path.Combine(Path.GetTempPath(), "lorabuild-sdk-tests", "feed-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(feed);

        // 2.0.0 is published with eval_loss 0.5; it is the first version, so there is nothing to regress from.
        var first = new AdapterProject(AdapterWithRegressionGate, properties: $"<Version>2.0.0</Version><LoraBuildPushFeed>{feed}</LoraBuildPushFeed>");
        first.Environment["FAKE_WORKER_EVAL_LOSS"] = "0.5";
        var published = first.Run("pack", "-o", "packages");
        Assert.True(published.ExitCode == 0, published.Output);
        Assert.Contains("speller: no version of Contoso.Adapters below 2.0.0", published.Output);
        Assert.True(File.Exists(Path.Combine(feed, "contoso.adapters", "2.0.0", "contoso.adapters.2.0.0.nupkg")) || Directory.GetFiles(feed, "*.nupkg", SearchOption.AllDirectories).Length == 1);

        // 2.1.0 within 0.01 of 2.0.0: passes, with this build's metrics beside 2.0.0's.
        var close = new AdapterProject(AdapterWithRegressionGate, properties: $"<LoraBuildPushFeed>{feed}</LoraBuildPushFeed>");
        close.Environment["FAKE_WORKER_EVAL_LOSS"] = "0.505";
        var passed = close.Run("build");
        Assert.True(passed.ExitCode == 0, passed.Output);
        Assert.Matches(@"speller: metric\s+this build\s+Contoso\.Adapters 2\.0\.0\s+change", passed.Output);
        Assert.Matches(@"speller: eval_loss\s+0\.505\s+0\.5\s+\+0\.005", passed.Output);
        Assert.Matches(@"speller: exact_match\s+0\.95\s+0\.95\s+0", passed.Output);
        Assert.Contains("gate speller eval_loss = 0.505 (base 3), regression from Contoso.Adapters 2.0.0 <= 0.01: passed", passed.Output);

        // 2.1.0 at 0.6: a regression of 0.1, the build fails with LB0251 at the gate's line.
        var worse = new AdapterProject(AdapterWithRegressionGate, properties: $"<LoraBuildPushFeed>{feed}</LoraBuildPushFeed>");
        worse.Environment["FAKE_WORKER_EVAL_LOSS"] = "0.6";
        var failed = worse.Run("build");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains($"Adapters.csproj({worse.LineOf("<LoraEvalGate")}): error LB0251: Evaluation gate failed: adapter 'speller' eval_loss = 0.6 (base model 3): " +
                        "regressed by 0.1 from 0.5 in Contoso.Adapters 2.0.0, more than MaxRegressionFromPrevious 0.01.", failed.Output);
    }

    [Fact]
    public void Without_a_feed_the_regression_gate_is_an_error_not_a_silent_pass()
    {
        var project = new AdapterProject(AdapterWithRegressionGate);
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("error LB0252: LoraEvalGate 'speller': MaxRegressionFromPrevious needs LoraBuildPushFeed or LoraBuildCacheFeed", build.Output);
    }
}
