using System.Diagnostics;
using LoraBuild.Adapters;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.Runtime.Engine;
using static TorchSharp.torch;

namespace LoraBuild.Cli.Serving;

/// <summary>One measured configuration: how many concurrent streams, and what they got.</summary>
/// <remarks>CpuSeconds is the process's CPU time over the run: with one libtorch thread it is the work done, which a machine
/// shared with other jobs inflates far less than the wall time.</remarks>
public sealed record ServeBenchRow(string Mode, int Streams, int Tokens, double Seconds, double TokensPerSecond, double TimeToFirstTokenP50, double TimeToFirstTokenP95,
    double CpuSeconds, double TokensPerCpuSecond);

/// <summary>
/// Serving throughput on one model with N random LoRA adapters (all linear layers): for each stream count, that many
/// requests arrive at once, round-robin over the adapters, each a random prompt and a fixed number of new tokens (no
/// stop token). "one-at-a-time" serves them one after another as <c>AdapterHost.Generate</c> does under its lock;
/// "engine" submits them all to the continuous-batching engine. Aggregate decode tokens/s = generated tokens / wall
/// time; time to first token from arrival.
/// </summary>
public static class ServeBenchmark
{
    public static IReadOnlyList<ServeBenchRow> Run(string modelDirectory, int adapterCount, int rank, IReadOnlyList<int> streams, int promptTokens,
        int newTokens, EngineOptions engineOptions, Device device, ScalarType dtype, Action<string> log)
    {
        var loading = Stopwatch.StartNew();
        using var model = AdapterLoader.Load(modelDirectory, [], dtype, device);
        var adapters = Enumerable.Range(0, adapterCount).Select(i => $"adapter{i}").ToList();
        var config = LoraConfig.ForTargets(LoraConfig.AllLinear) with { R = rank, LoraAlpha = 2 * rank, InitLoraWeights = LoraInit.None };
        foreach (var name in adapters) LoraModel.AddAdapter(model, name, config);
        model.eval();
        log($"loaded {modelDirectory} with {adapterCount} adapters (r={rank}, all linear) in {loading.Elapsed.TotalSeconds:F0} s; {promptTokens} prompt tokens, {newTokens} new tokens per request");
        var random = new Random(1);
        var vocabulary = (int)model.Config.VocabSize;
        List<int> Prompt() => Enumerable.Range(0, promptTokens).Select(_ => random.Next(vocabulary)).ToList();
        var noStop = new HashSet<int>();
        var rows = new List<ServeBenchRow>();
        using var engine = new GenerationEngine(model, noStop, adapters.ToHashSet(), engineOptions);
        // Warm-up: one short request each way (first-call allocations and kernel selection).
        OneAtATime(model, [(adapters[0], Prompt())], 2, noStop);
        Engine(engine, [(adapters[0], Prompt())], 2);
        foreach (var count in streams)
        {
            var requests = Enumerable.Range(0, count).Select(i => (Adapter: adapters[i % adapters.Count], Prompt: Prompt())).ToList();
            foreach (var (mode, measure) in new (string, Func<(double, List<double>)>)[]
                     {
                         ("one-at-a-time", () => OneAtATime(model, requests, newTokens, noStop)),
                         ("engine", () => Engine(engine, requests, newTokens)),
                     })
            {
                var cpuBefore = Environment.CpuUsage.TotalTime.TotalSeconds;
                var (seconds, firstTokens) = measure();
                var cpu = Environment.CpuUsage.TotalTime.TotalSeconds - cpuBefore;
                firstTokens.Sort();
                var row = new ServeBenchRow(mode, count, count * newTokens, seconds, count * newTokens / seconds, Percentile(firstTokens, 0.5), Percentile(firstTokens, 0.95),
                    cpu, count * newTokens / cpu);
                rows.Add(row);
                log($"{mode,-14} streams {count,3}: {row.TokensPerSecond,8:F2} tokens/s aggregate ({row.Tokens} tokens in {row.Seconds:F1} s), " +
                    $"TTFT p50 {row.TimeToFirstTokenP50:F2} s, p95 {row.TimeToFirstTokenP95:F2} s; {row.TokensPerCpuSecond:F2} tokens per CPU second");
            }
        }
        return rows;
    }

    /// <summary>All arrive at once and are served one after another, each with its adapter active (today's Generate).</summary>
    static (double Seconds, List<double> FirstTokens) OneAtATime(CausalLM model, IReadOnlyList<(string Adapter, List<int> Prompt)> requests, int newTokens, IReadOnlySet<int> noStop)
    {
        var clock = Stopwatch.StartNew();
        var firstTokens = new List<double>();
        foreach (var (adapter, prompt) in requests)
        {
            LoraModel.SetActiveAdapters(model, adapter);
            var first = double.NaN;
            TextGenerator.Generate(model, prompt, noStop, new GenerationOptions(MaxNewTokens: newTokens), _ =>
            {
                if (double.IsNaN(first)) first = clock.Elapsed.TotalSeconds;
            });
            firstTokens.Add(first);
        }
        LoraModel.SetActiveAdapters(model);
        return (clock.Elapsed.TotalSeconds, firstTokens);
    }

    static (double Seconds, List<double> FirstTokens) Engine(GenerationEngine engine, IReadOnlyList<(string Adapter, List<int> Prompt)> requests, int newTokens)
    {
        var clock = Stopwatch.StartNew();
        var readers = requests.Select(r => engine.Submit(r.Adapter, r.Prompt, new SamplingSettings(MaxTokens: newTokens))).Select(async handle =>
        {
            var first = double.NaN;
            await foreach (var _ in handle.Tokens.ReadAllAsync())
                if (double.IsNaN(first)) first = clock.Elapsed.TotalSeconds;
            await handle.Completion;
            return first;
        }).ToList();
        var firstTokens = Task.WhenAll(readers).GetAwaiter().GetResult().ToList();
        return (clock.Elapsed.TotalSeconds, firstTokens);
    }

    static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
