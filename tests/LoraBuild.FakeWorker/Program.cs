// A stand-in for the lorabuild worker in tests of the SDK's target logic: it records each invocation and writes the
// files a real run writes, with metrics taken from FAKE_WORKER_* environment variables, in milliseconds instead of minutes.
using System.Text.Json;

var log = Environment.GetEnvironmentVariable("FAKE_WORKER_LOG");
if (log is not null) File.AppendAllText(log, string.Join(" ", args) + "\n");
string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var settings = args.Select((a, i) => (a, i)).Where(p => p.a == "--set").Select(p => args[p.i + 1].Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

switch (args.FirstOrDefault())
{
    case "train":
    {
        if (Environment.GetEnvironmentVariable("FAKE_WORKER_FAIL") is { } failure)
        {
            Console.Error.WriteLine(failure);
            return 1;
        }
        var output = Option("--out")!;
        // Faults for the reliability tests: die as an OOM kill does, or train "forever" (the build is killed instead).
        if (Environment.GetEnvironmentVariable("FAKE_WORKER_KILL_SELF") == "1")
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        if (Environment.GetEnvironmentVariable("FAKE_WORKER_HANG") is { Length: > 0 } pidFile)
        {
            LoraBuild.Diagnostics.ParentWatch.StartFromEnvironment(Console.Error.WriteLine);
            File.WriteAllText(pidFile, Environment.ProcessId.ToString());
            LoraBuild.Events.WorkerEventWriter.Console.Status(LoraBuild.Events.WorkerPhases.Training, "step 1/1000000 loss 2.0000 lr 1.00e-04 tokens/s 100 epoch 0.00 eta 99:00:00");
            Thread.Sleep(Timeout.Infinite);
        }
        var adapter = Path.Combine(output, "adapter");
        Directory.CreateDirectory(adapter);
        // A delay per step lets a terminal-logger test see the live status line being drawn.
        var stepDelay = int.TryParse(Environment.GetEnvironmentVariable("FAKE_WORKER_STEP_DELAY_MS"), out var ms) ? ms : 0;
        LoraBuild.Events.WorkerEventWriter.Console.Status(LoraBuild.Events.WorkerPhases.Training, "step 1/2 loss 2.0000 lr 1.00e-04 tokens/s 100 epoch 0.50 eta 00:00:01");
        Thread.Sleep(stepDelay);
        LoraBuild.Events.WorkerEventWriter.Console.Status(LoraBuild.Events.WorkerPhases.Training, "step 2/2 loss 1.0000 lr 0.00e+00 tokens/s 100 epoch 1.00 eta 00:00:00");
        Thread.Sleep(stepDelay);
        if (settings.ContainsKey("eval_dataset"))
        {
            LoraBuild.Events.WorkerEventWriter.Console.Status(LoraBuild.Events.WorkerPhases.Evaluation, "evaluating the adapter: 4 examples (loss, token accuracy), 4 generations of up to 64 tokens (exact match)");
            Thread.Sleep(stepDelay);
            LoraBuild.Events.WorkerEventWriter.Console.Status(LoraBuild.Events.WorkerPhases.Evaluation, "exact match: 4/4 generated, 4 correct");
            LoraBuild.Events.WorkerEventWriter.Console.Result(LoraBuild.Events.WorkerPhases.Evaluation, "eval: loss 0.5000 perplexity 1.65 token accuracy 0.900 exact match 0.950 (4 examples)");
        }
        File.WriteAllText(Path.Combine(adapter, "adapter_config.json"), JsonSerializer.Serialize(new
        {
            r = int.Parse(settings.GetValueOrDefault("r", "8")), lora_alpha = 16, lora_dropout = 0.0, use_dora = settings.GetValueOrDefault("use_dora") == "true",
            target_modules = new[] { "q_proj", "v_proj" }, peft_type = "LORA",
            base_model_name_or_path = settings.GetValueOrDefault("base_model_id") ?? Path.GetFileName(settings.GetValueOrDefault("base_model", "")),
        }));
        File.WriteAllBytes(Path.Combine(adapter, "adapter_model.safetensors"), [8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32]);
        File.WriteAllText(Path.Combine(adapter, "lorabuild.json"), JsonSerializer.Serialize(new { quantization = settings.GetValueOrDefault("quantization", "none"), double_quant = true, base_model_sha256 = "fakebasehash", fingerprint = "fake", worker_version = "fake" }));
        double Env(string name, double fallback) => double.TryParse(Environment.GetEnvironmentVariable(name), System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : fallback;
        object? eval = settings.ContainsKey("eval_dataset")
            ? new { eval_loss = Env("FAKE_WORKER_EVAL_LOSS", 0.5), perplexity = Math.Exp(Env("FAKE_WORKER_EVAL_LOSS", 0.5)), token_accuracy = 0.9, exact_match = Env("FAKE_WORKER_EXACT_MATCH", 0.95) }
            : null;
        object? baseEval = eval is null ? null : new { eval_loss = 3.0, perplexity = Math.Exp(3.0), token_accuracy = 0.4, exact_match = 0.0 };
        File.WriteAllText(Path.Combine(output, "metrics.json"), JsonSerializer.Serialize(new
        {
            steps = 2, final_train_loss = 1.0, trainable_parameters = 1024, trainable_percent = 1.5, eval, base_eval = baseEval,
            loss_curve = new[] { new { step = 1, loss = 2.0 }, new { step = 2, loss = 1.0 } },
            eval_curve = eval is null ? [] : new[] { new { step = 2, eval_loss = Env("FAKE_WORKER_EVAL_LOSS", 0.5) } },
        }));
        File.WriteAllText(Path.Combine(output, "loss_curve.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
        File.WriteAllBytes(Path.Combine(output, "loss_curve.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        File.WriteAllText(Path.Combine(output, "run.json"), "{}");
        LoraBuild.Events.WorkerEventWriter.Console.Result(LoraBuild.Events.WorkerPhases.Training, $"done: 2 steps, output {output}");
        return 0;
    }
    case "merge":
    {
        var output = Option("--out")!;
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "config.json"), "{}");
        File.WriteAllText(Path.Combine(output, "model.safetensors"), "");
        return 0;
    }
    case "export" when args.ElementAtOrDefault(1) == "gguf":
    {
        // As the real worker: a DoRA adapter has no GGUF adapter form (LB0604) and writes nothing; else the GGUF, then the Modelfile.
        var adapter = Option("--adapter")!;
        var merge = args.Contains("--merge");
        if (!merge && File.ReadAllText(Path.Combine(adapter, "adapter_config.json")).Contains("\"use_dora\":true"))
        {
            Console.Error.WriteLine($"{Path.Combine(adapter, "adapter_config.json")}: error LB0604: a DoRA adapter has no GGUF adapter form (llama.cpp applies W + s·B·A only, not DoRA's magnitude); export it merged: add --merge.");
            return 1;
        }
        var output = Option("--out")!;
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        File.WriteAllBytes(output, [(byte)'G', (byte)'G', (byte)'U', (byte)'F', 3, 0, 0, 0, (byte)(merge ? 'M' : 'A')]);
        Console.WriteLine($"wrote {output} (9 bytes) in 0.0 s");
        if (Option("--modelfile") is { } modelfile)
            File.WriteAllText(modelfile, merge ? $"FROM ./{Path.GetFileName(output)}\n" : $"FROM ./base.gguf\nADAPTER ./{Path.GetFileName(output)}\n");
        return 0;
    }
    default:
        Console.Error.WriteLine("fake worker: unknown command " + args.FirstOrDefault());
        return 2;
}
