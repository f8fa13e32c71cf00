using System.CommandLine;
using System.Text.Json;
using LoraBuild.Benchmarks;
using LoraBuild.Diagnostics;
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
        var phaseSteps = new Option<int>("--phase-steps") { DefaultValueFactory = _ => 3, Description = "Extra steps timed phase by phase (0 for long-context memory probes)." };
        var output = new Option<string?>("--out") { Description = "JSON file for the results." };
        var checkpointing = new Option<string>("--gradient-checkpointing") { DefaultValueFactory = _ => "off", Description = "off | on | both" };
        var loss = new Option<string>("--loss") { DefaultValueFactory = _ => "fused", Description = "fused (head + cross-entropy over chunks) | plain (full float32 logits) | both" };
        var floor = new Option<bool>("--floor") { Description = "Also time libtorch's own GEMMs and attention for the step (the floor a step cannot go below)." };
        var inProcess = new Option<bool>("--in-process") { Description = "Run all cases in this process (peak memory then carries over between cases)." };
        var model = new Option<string?>("--model")
        {
            Description = "An HF model folder to benchmark instead of the random shapes: load time, NF4 / int8 quantisation time, peak resident memory, " +
                          "seconds per step (all linear layers, r = --rank) and adapter size; one method (the first of --methods).",
        };
        var rank = new Option<int>("--rank") { DefaultValueFactory = _ => 16 };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("bench", "Benchmark LoRA/DoRA/QLoRA training steps (tokens/s, peak GPU memory).")
            { shapes, methods, targets, batch, sequence, warmup, steps, phaseSteps, output, checkpointing, loss, floor, inProcess, model, rank, device, dtype };
        command.SetAction(parse =>
        {
            if (parse.GetValue(model) is { } modelDirectory)
            {
                var method = parse.GetValue(methods)!.Split(',')[0];
                Require("--methods", method, ["lora", "dora", "qlora", "qdora", "int8"]);
                var (modelDevice, modelType) = CommonOptions.Resolve(parse.GetValue(device)!, parse.GetValue(dtype));
                var measured = CheckpointBenchmark.Run(modelDirectory, method, parse.GetValue(batch), parse.GetValue(sequence),
                    parse.GetValue(warmup), parse.GetValue(steps), parse.GetValue(rank), modelDevice, modelType, Console.WriteLine);
                if (parse.GetValue(output) is { } file)
                    AtomicFile.WriteAllText(file, JsonSerializer.Serialize(measured, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            Require("--shapes", parse.GetValue(shapes)!, TrainingBenchmark.Shapes.Keys);
            Require("--methods", parse.GetValue(methods)!, TrainingBenchmark.Methods);
            Require("--targets", parse.GetValue(targets)!, TrainingBenchmark.TargetSets);
            Require("--gradient-checkpointing", parse.GetValue(checkpointing)!, ["off", "on", "both"]);
            Require("--loss", parse.GetValue(loss)!, ["fused", "plain", "both"]);
            var cases = (from shape in parse.GetValue(shapes)!.Split(',')
                         from target in parse.GetValue(targets)!.Split(',')
                         from method in parse.GetValue(methods)!.Split(',')
                         from gc in parse.GetValue(checkpointing) switch { "on" => new[] { true }, "both" => new[] { false, true }, _ => new[] { false } }
                         from fused in parse.GetValue(loss) switch { "plain" => new[] { false }, "both" => new[] { true, false }, _ => new[] { true } }
                         select new BenchCase(shape, method, target, gc, fused)).ToList();
            var results = new Dictionary<string, BenchResult>();
            if (cases.Count > 1 && !parse.GetValue(inProcess))
            {
                // One process per case: each starts with an empty allocator, so peak memory is that case's alone.
                foreach (var c in cases)
                {
                    var file = Path.Combine(Path.GetTempPath(), $"lorabuild-bench-{Guid.NewGuid():N}.json");
                    var start = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
                    foreach (var a in new[] { typeof(BenchCommand).Assembly.Location, "bench", "--shapes", c.Shape, "--methods", c.Method, "--targets", c.Targets,
                                 "--batch", parse.GetValue(batch).ToString(), "--seq", parse.GetValue(sequence).ToString(), "--warmup", parse.GetValue(warmup).ToString(),
                                 "--steps", parse.GetValue(steps).ToString(), "--phase-steps", parse.GetValue(phaseSteps).ToString(), "--device", parse.GetValue(device)!, "--out", file,
                                 "--gradient-checkpointing", c.GradientCheckpointing ? "on" : "off", "--loss", c.FusedLoss ? "fused" : "plain" })
                        start.ArgumentList.Add(a);
                    if (parse.GetValue(floor)) start.ArgumentList.Add("--floor");
                    if (parse.GetValue(dtype) is { } t) { start.ArgumentList.Add("--dtype"); start.ArgumentList.Add(t); }
                    using var child = System.Diagnostics.Process.Start(start)!;
                    child.WaitForExit();
                    if (child.ExitCode == 0 && File.Exists(file))
                        foreach (var (key, value) in JsonSerializer.Deserialize<Dictionary<string, BenchResult>>(File.ReadAllText(file))!) results[key] = value;
                    else Console.Error.WriteLine($"bench case {c} failed with exit code {child.ExitCode}");
                    File.Delete(file);
                }
            }
            else
            {
                var (dev, type) = CommonOptions.Resolve(parse.GetValue(device)!, parse.GetValue(dtype));
                foreach (var c in cases)
                {
                    results[c.Key] = TrainingBenchmark.Run(c, parse.GetValue(batch), parse.GetValue(sequence),
                        parse.GetValue(warmup), parse.GetValue(steps), dev, type, parse.GetValue(floor), Console.WriteLine, parse.GetValue(phaseSteps));
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
            }
            if (parse.GetValue(output) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }

    static void Require(string option, string values, IEnumerable<string> known)
    {
        var unknown = values.Split(',').Where(v => !known.Contains(v)).ToList();
        if (unknown.Count > 0)
            throw new LoraBuildException(ErrorCodes.BadArgument, $"{option}: unknown {string.Join(", ", unknown)}; expected {string.Join(", ", known)} (comma-separated).");
    }
}
