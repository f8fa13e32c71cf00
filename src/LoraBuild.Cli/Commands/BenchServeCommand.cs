using System.CommandLine;
using System.Text.Json;
using LoraBuild.Cli.Serving;
using LoraBuild.Diagnostics;
using LoraBuild.IO;
using LoraBuild.Runtime.Engine;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild bench-serve</c>: aggregate decode tokens/s and time to first token at several numbers of concurrent
/// streams over several adapters, the batching engine beside one-request-at-a-time generation (docs/performance.md).
/// </summary>
public static class BenchServeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = new Option<int>("--adapters") { Description = "Random LoRA adapters (all linear layers) added to the model.", DefaultValueFactory = _ => 4 };
        var rank = new Option<int>("--rank") { DefaultValueFactory = _ => 16 };
        var streams = new Option<string>("--streams") { Description = "Concurrent stream counts, comma-separated.", DefaultValueFactory = _ => "1,4,16" };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 32 };
        var maxBatch = new Option<int>("--max-batch") { DefaultValueFactory = _ => 32 };
        var prefillChunk = new Option<int>("--prefill-chunk") { DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads") { Description = "libtorch CPU threads (0: its default, one per core). On a machine shared with other work, 1 avoids waiting on descheduled threads." };
        var output = new Option<string?>("--out") { Description = "JSON file for the results." };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("bench-serve", "Benchmark serving: continuous batching across adapters vs one request at a time (tokens/s, time to first token).")
            { model, adapters, rank, streams, promptTokens, newTokens, maxBatch, prefillChunk, output, threads, device, dtype };
        command.SetAction(parse =>
        {
            var counts = parse.GetValue(streams)!.Split(',').Select(s => int.TryParse(s, out var n) && n > 0 ? n
                : throw new LoraBuildException(ErrorCodes.BadArgument, $"--streams {parse.GetValue(streams)}: positive integers, comma-separated.")).ToList();
            if (parse.GetValue(adapters) < 1 || parse.GetValue(rank) < 1 || parse.GetValue(promptTokens) < 1 || parse.GetValue(newTokens) < 1)
                throw new LoraBuildException(ErrorCodes.BadArgument, "--adapters, --rank, --prompt-tokens and --new-tokens must be positive.");
            var (dev, type) = CommonOptions.Resolve(parse.GetValue(device)!, parse.GetValue(dtype));
            // After Resolve: libtorch is loaded (with its start-up checks) by then.
            if (parse.GetValue(threads) > 0) TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            var rows = ServeBenchmark.Run(parse.GetValue(model)!, parse.GetValue(adapters), parse.GetValue(rank), counts, parse.GetValue(promptTokens),
                parse.GetValue(newTokens), new EngineOptions(parse.GetValue(maxBatch), parse.GetValue(prefillChunk)), dev, type, Console.WriteLine);
            if (parse.GetValue(output) is { } file)
                AtomicFile.WriteAllText(file, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
