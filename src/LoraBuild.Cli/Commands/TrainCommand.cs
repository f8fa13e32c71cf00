using System.CommandLine;
using System.Globalization;
using LoraBuild.Training;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild train</c>: fine-tune from a YAML config and/or flags (flags win).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Adapter YAML (keys as in docs/training.md)." };
        var model = new Option<string?>("--model") { Description = "base_model: HF model folder." };
        var dataset = new Option<string?>("--dataset") { Description = "dataset: training JSONL." };
        var evalDataset = new Option<string?>("--eval-dataset") { Description = "eval_dataset: evaluation JSONL." };
        var output = new Option<string?>("--out") { Description = "output_dir." };
        var rank = new Option<int?>("--rank") { Description = "r" };
        var alpha = new Option<double?>("--alpha") { Description = "lora_alpha" };
        var quantization = new Option<string?>("--quantization") { Description = "none | nf4" };
        var dora = new Option<bool>("--dora") { Description = "use_dora: true" };
        var steps = new Option<int?>("--steps") { Description = "max_steps" };
        var lr = new Option<double?>("--lr") { Description = "learning_rate" };
        var seed = new Option<int?>("--seed") { Description = "seed" };
        var method = new Option<string?>("--method") { Description = "lora | full" };
        var device = new Option<string?>("--device") { Description = "auto | cpu | cuda" };
        var set = new Option<string[]>("--set") { Description = "Any key: --set key=value (repeatable).", AllowMultipleArgumentsPerToken = false };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint whose fingerprint matches." };
        var command = new Command("train", "Fine-tune a LoRA / DoRA / QLoRA / QDoRA adapter (or all weights) from JSONL data.")
            { config, model, dataset, evalDataset, output, rank, alpha, quantization, dora, steps, lr, seed, method, device, set, resume };
        command.SetAction(parse =>
        {
            var settings = new TrainingConfig();
            if (parse.GetValue(config) is { } file) TrainingConfigLoader.Load(file, settings);
            void Flag(string key, object? value)
            {
                if (value is null) return;
                var text = value switch
                {
                    string s => PathKeys.Contains(key) && s.Length > 0 ? Path.GetFullPath(s) : s,
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => value.ToString(),
                };
                settings.Apply(key, new TrainingConfig.Value(text, null, null, "command line", 0));
            }
            Flag("base_model", parse.GetValue(model));
            Flag("dataset", parse.GetValue(dataset));
            Flag("eval_dataset", parse.GetValue(evalDataset));
            Flag("output_dir", parse.GetValue(output));
            Flag("r", parse.GetValue(rank));
            Flag("lora_alpha", parse.GetValue(alpha));
            Flag("quantization", parse.GetValue(quantization));
            if (parse.GetValue(dora)) Flag("use_dora", "true");
            Flag("max_steps", parse.GetValue(steps));
            Flag("learning_rate", parse.GetValue(lr));
            Flag("seed", parse.GetValue(seed));
            Flag("method", parse.GetValue(method));
            Flag("device", parse.GetValue(device));
            foreach (var pair in parse.GetValue(set) ?? [])
            {
                var equals = pair.IndexOf('=');
                if (equals <= 0) throw new Diagnostics.LoraBuildException(Diagnostics.ErrorCodes.BadArgument, $"--set expects key=value, got '{pair}'.");
                Flag(pair[..equals], pair[(equals + 1)..]);
            }
            new Trainer(settings, Console.WriteLine).Run(parse.GetValue(resume));
            return 0;
        });
        return command;
    }

    static readonly string[] PathKeys = ["base_model", "dataset", "eval_dataset", "output_dir"];
}
