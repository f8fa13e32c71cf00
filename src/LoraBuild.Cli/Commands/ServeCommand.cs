using System.CommandLine;
using System.Net;
using LoraBuild.Adapters;
using LoraBuild.Cli.Serving;
using LoraBuild.Diagnostics;
using LoraBuild.Events;
using LoraBuild.Runtime;
using LoraBuild.Runtime.Engine;
using Microsoft.Extensions.Hosting;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild serve</c>: an OpenAI-compatible server (Kestrel) over one base model and its adapters, each adapter a
/// model id; concurrent requests are batched across adapters by the runtime's engine. Ctrl+C or SIGTERM stops accepting,
/// lets running requests finish for --shutdown-timeout seconds, then cancels the rest.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = new Option<string[]>("--adapter") { Description = "Adapter as name=folder (or a folder: its name is the folder's), repeatable; each is a model id." };
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0: any free port, printed at start).", DefaultValueFactory = _ => 8000 };
        var device = CommonOptions.Device();
        var maxBatch = new Option<int>("--max-batch") { Description = "Requests decoded together at most.", DefaultValueFactory = _ => 32 };
        var prefillChunk = new Option<int>("--prefill-chunk") { Description = "Prompt tokens prefilled per engine step.", DefaultValueFactory = _ => 256 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Largest max_tokens a request may ask for.", DefaultValueFactory = _ => 2048 };
        var maxPrompt = new Option<int>("--max-prompt-tokens") { Description = "Longest prompt accepted, in tokens.", DefaultValueFactory = _ => 8192 };
        var maxConcurrent = new Option<int>("--max-concurrent") { Description = "Generation requests in flight at once; more get 429.", DefaultValueFactory = _ => 256 };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body; larger gets 413.", DefaultValueFactory = _ => 1 << 20 };
        var shutdown = new Option<double>("--shutdown-timeout") { Description = "Seconds running requests get to finish at shutdown.", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "libtorch CPU threads (0: its default, one per core). On a machine shared with other work, 1 avoids waiting on descheduled threads." };
        var unverified = new Option<bool>("--accept-adapter-without-provenance") { Description = "Load adapters that have no lorabuild.json (nothing says which base they fit)." };
        var command = new Command("serve", "Serve the base model and adapters over an OpenAI-compatible HTTP API (chat and text completions, streaming, /metrics).")
            { model, adapters, host, port, device, maxBatch, prefillChunk, maxTokens, maxPrompt, maxConcurrent, maxBody, shutdown, unverified, threads };
        command.SetAction(parse =>
        {
            if (!IPAddress.TryParse(parse.GetValue(host), out var address))
                throw new LoraBuildException(ErrorCodes.BadArgument, $"--host {parse.GetValue(host)}: not an IP address.");
            var limits = new ServeLimits(parse.GetValue(maxBody), parse.GetValue(maxTokens), Math.Min(256, parse.GetValue(maxTokens)), parse.GetValue(maxPrompt), parse.GetValue(maxConcurrent));
            if (limits.MaxBodyBytes < 1024 || limits.MaxTokens < 1 || limits.MaxPromptTokens < 1 || limits.MaxConcurrentRequests < 1 || parse.GetValue(maxBatch) < 1 || parse.GetValue(prefillChunk) < 1)
                throw new LoraBuildException(ErrorCodes.BadArgument, "--max-* and --prefill-chunk must be positive (--max-body-bytes at least 1024).");
            var sources = (parse.GetValue(adapters) ?? []).Select(AdapterSource.Parse).ToList();
            var events = WorkerEventWriter.Console;
            events.Status("loading", $"loading {parse.GetValue(model)} with {sources.Count} adapter(s)");
            using var adapterHost = AdapterHost.Load(parse.GetValue(model)!, sources,
                new LoraBuild.Runtime.HostOptions(parse.GetValue(device)!, AcceptAdapterWithoutProvenance: parse.GetValue(unverified)),
                new EngineOptions(parse.GetValue(maxBatch), parse.GetValue(prefillChunk)));
            // After loading: libtorch is loaded (with its start-up checks) by then.
            if (parse.GetValue(threads) > 0) TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            var server = new OpenAiServer(adapterHost, limits);
            var app = server.Build(address, parse.GetValue(port), TimeSpan.FromSeconds(parse.GetValue(shutdown)));
            app.StartAsync().GetAwaiter().GetResult();
            events.Status("serve", $"listening on {OpenAiServer.Address(app)} (models: base{string.Concat(adapterHost.Adapters.Order().Select(a => ", " + a))})");
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
            events.Status("serve", "stopped");
            return 0;
        });
        return command;
    }
}
