using LoraBuild.Generation;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Evaluation;
using LoraBuild.IO;
using LoraBuild.Models;
using LoraBuild.Tokenization;
using LoraBuild.Training;
using LoraBuild.Training.Data;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild eval</c>: metrics of the adapter and of the base model alone, on the same data.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string?>("--adapter") { Description = "PEFT adapter folder (omit to evaluate the base only)." };
        var dataset = new Option<string>("--dataset") { Description = "Evaluation JSONL.", Required = true };
        var output = new Option<string>("--out") { Description = "metrics.json to write.", Required = true };
        var sequenceLen = new Option<int>("--sequence-len") { DefaultValueFactory = _ => 512 };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 64 };
        var chatTemplate = new Option<string>("--chat-template") { DefaultValueFactory = _ => "auto" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("eval", "Eval loss, perplexity, token accuracy and exact match, for the adapter and the base model.")
            { model, adapter, dataset, output, sequenceLen, batchSize, maxNewTokens, chatTemplate, device, dtype };
        command.SetAction(parse =>
        {
            var (dev, type) = CommonOptions.Resolve(parse.GetValue(device)!, parse.GetValue(dtype));
            var modelDir = parse.GetValue(model)!;
            var adapterDir = parse.GetValue(adapter);
            var tokenizer = HfTokenizer.Load(modelDir);
            var chat = ChatTemplate.Resolve(parse.GetValue(chatTemplate), modelDir, parse.GetValue(dataset)!);
            var length = parse.GetValue(sequenceLen);
            var raw = JsonlDataset.Read(parse.GetValue(dataset)!);
            var (encoded, _) = new ExampleEncoder(tokenizer, chat, length).EncodeAll(raw);
            var cases = Evaluator.Cases(raw, encoded, tokenizer, length);
            var stopIds = StopTokens.Resolve(tokenizer, modelDir);
            using var loaded = AdapterLoader.Load(modelDir, adapterDir is null ? [] : [new AdapterSource("default", adapterDir)], type, dev);
            var results = new Dictionary<string, object?>();
            if (adapterDir is not null)
            {
                LoraModel.SetActiveAdapters(loaded, "default");
                results["adapter"] = Run(loaded, "adapter");
                LoraModel.SetActiveAdapters(loaded);
            }
            results["base"] = Run(loaded, "base");
            AtomicFile.WriteAllText(parse.GetValue(output)!, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
            return 0;

            Dictionary<string, object?> Run(CausalLM m, string name)
            {
                var r = Evaluator.Evaluate(m, encoded, cases, tokenizer, stopIds, parse.GetValue(batchSize), parse.GetValue(maxNewTokens));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: eval_loss {r.EvalLoss:0.0000} perplexity {r.Perplexity:0.00} token_accuracy {r.TokenAccuracy:0.000} exact_match {r.ExactMatch?.ToString("0.000", CultureInfo.InvariantCulture) ?? "n/a"}"));
                return r.ToJson();
            }
        });
        return command;
    }
}
