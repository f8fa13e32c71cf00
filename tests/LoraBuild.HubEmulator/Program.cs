using LoraBuild.HubEmulator;

// `dotnet run --project tests/LoraBuild.HubEmulator -- serve model:org/name=folder [dataset:org/name=folder ...]`:
// the emulator as a process, for trying a client by hand. `bench ...`: the download benchmark (DownloadBenchmark.cs).
if (args.Length > 0 && args[0] == "bench") return await DownloadBenchmark.RunAsync(args[1..]);
if (args.Length == 0 || args[0] != "serve")
{
    Console.Error.WriteLine("usage: serve [model|dataset]:org/name=folder ... | bench [--size-mb N] [--cut-every-mb N]");
    return 2;
}
await using var emulator = await HubEmulator.StartAsync();
foreach (var spec in args[1..])
{
    var (kind, rest) = spec.Split(':', 2) is [var k, var r] ? (k, r) : ("model", spec);
    var (id, folder) = rest.Split('=', 2) is [var i, var f] ? (i, f) : throw new ArgumentException(spec);
    Console.WriteLine($"{kind} {id} @ {emulator.Push(kind, id, folder)}");
}
Console.WriteLine($"HF_ENDPOINT={emulator.HubUrl}");
Console.WriteLine($"CDN={emulator.CdnUrl}");
var done = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
await done.Task;
return 0;
