using System.CommandLine;
using System.Text.Json;
using LoraBuild.Benchmarks;
using LoraBuild.IO;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild bench</c>: training-step throughput and peak memory, with peft_bench.py's shapes and settings.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var shapes = new Option<string>("--shapes") { DefaultValueFactory = _ => "llama-134m,tinyllama-1.1b", Description = string.Join(", ", TrainingBenchmark.Shapes.Keys) };
        var methods = new Option<string>("--methods") { DefaultValueFactory = _ => "lora,dora,qlora" };
        var targets = new Option<string>("--targets") { DefaultValueFactory = _ => "qv,all" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8 };
        var sequence = new Option<int>("--seq") { DefaultValueFactory = _ => 1024 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 3 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 10 };
        var output = new Option<string?>("--out") { Description = "JSON file for the results." };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("bench", "Benchmark LoRA/DoRA/QLoRA training steps (tokens/s, peak GPU memory).")
            { shapes, methods, targets, batch, sequence, warmup, steps, output, device, dtype };
        command.SetAction(parse =>
        {
            var (dev, type) = CommonOptions.Resolve(parse.GetValue(device)!, parse.GetValue(dtype));
            var results = new Dictionary<string, BenchResult>();
            foreach (var shape in parse.GetValue(shapes)!.Split(','))
            foreach (var target in parse.GetValue(targets)!.Split(','))
            foreach (var method in parse.GetValue(methods)!.Split(','))
            {
                var result = TrainingBenchmark.Run(new BenchCase(shape, method, target), parse.GetValue(batch), parse.GetValue(sequence),
                    parse.GetValue(warmup), parse.GetValue(steps), dev, type, Console.WriteLine);
                results[$"{shape}/{method}/{target}"] = result;
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
            if (parse.GetValue(output) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
