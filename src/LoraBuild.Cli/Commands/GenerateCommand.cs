using System.CommandLine;
using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Generation;
using LoraBuild.Models;
using LoraBuild.Runtime;
using LoraBuild.Templating;
using LoraBuild.Tokenization;
using LoraBuild.Training;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild generate</c>: text from a base model with any number of adapters loaded once; each prompt picks its
/// adapter (<c>--use</c>), so requests switch adapters without reloading the base.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = new Option<string[]>("--adapter") { Description = "Adapter folder, or name=folder (repeatable)." };
        var prompts = new Option<string[]>("--prompt") { Description = "Prompt text (repeatable).", Required = true };
        var use = new Option<string[]>("--use") { Description = "Adapter name per prompt ('base' for none); one value applies to all." };
        var maxNewTokens = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 0.0 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var chat = new Option<bool>("--chat") { Description = "Send each prompt as a user message through the model's chat template." };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var json = new Option<bool>("--json") { Description = "One JSON object per prompt: adapter, prompt, prompt_ids (what the model was given), output_ids, text." };
        var command = new Command("generate", "Generate text (KV cache; greedy, or temperature with top-p), stopping at end of sequence.")
            { model, adapters, prompts, use, maxNewTokens, temperature, topP, seed, chat, device, dtype, json };
        command.SetAction(parse =>
        {
            var (dev, type) = CommonOptions.Resolve(parse.GetValue(device)!, parse.GetValue(dtype));
            var modelDir = parse.GetValue(model)!;
            var tokenizer = HfTokenizer.Load(modelDir);
            var named = (parse.GetValue(adapters) ?? []).Select(AdapterSource.Parse).ToList();
            using var loaded = AdapterLoader.Load(modelDir, named, type, dev);
            var promptList = parse.GetValue(prompts)!;
            var useList = parse.GetValue(use) ?? [];
            if (useList.Length > 1 && useList.Length != promptList.Length)
                throw new LoraBuildException(ErrorCodes.BadArgument, $"--use was given {useList.Length} times for {promptList.Length} prompts; give it once or once per prompt.");
            var stopIds = StopTokens.Resolve(tokenizer, modelDir);
            var chatPrompt = parse.GetValue(chat) ? new ChatPrompt(ChatTemplateSource.Load(modelDir)) : null;
            var options = new GenerationOptions(parse.GetValue(maxNewTokens), parse.GetValue(temperature), parse.GetValue(topP), parse.GetValue(seed));
            for (var i = 0; i < promptList.Length; i++)
            {
                var adapterName = useList.Length == 0 ? named.FirstOrDefault()?.Name ?? "base" : useList.Length == 1 ? useList[0] : useList[i];
                if (adapterName != "base" && !named.Any(n => n.Name == adapterName))
                    throw new LoraBuildException(ErrorCodes.BadArgument, $"--use {adapterName}: no adapter of that name; loaded: {string.Join(", ", named.Select(n => n.Name).DefaultIfEmpty("none"))}.");
                if (adapterName == "base") LoraModel.SetActiveAdapters(loaded);
                else LoraModel.SetActiveAdapters(loaded, adapterName);
                // A raw prompt gets the tokenizer's leading special tokens, as transformers' tokenizer(prompt) and training give
                // it; a rendered template holds its special tokens as text: encoded with none added.
                var promptIds = chatPrompt is null ? tokenizer.EncodePrompt(promptList[i]) : tokenizer.Encode(chatPrompt.Render([("user", promptList[i])]), addSpecialTokens: false);
                var ids = TextGenerator.Generate(loaded, promptIds, stopIds, options);
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["adapter"] = adapterName, ["prompt"] = promptList[i], ["prompt_ids"] = promptIds, ["output_ids"] = ids, ["text"] = tokenizer.Decode(ids),
                    }));
                else
                    Console.WriteLine($"[{adapterName}] {promptList[i]}{tokenizer.Decode(ids)}");
            }
            return 0;
        });
        return command;
    }
}
