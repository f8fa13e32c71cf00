using System.CommandLine;
using LoraBuild.Adapters;
using LoraBuild.Models;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild merge</c>: fold an adapter into its base and write an HF model folder. An NF4-trained adapter is merged
/// into dequant(NF4(W)) by default — the weights it was trained against; <c>--merge-base original</c> uses W.
/// </summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter folder.", Required = true };
        var output = new Option<string>("--out") { Description = "Merged HF model folder to write.", Required = true };
        var mergeBase = new Option<string>("--merge-base") { Description = "trained (default: the base the adapter saw) | original", DefaultValueFactory = _ => "trained" };
        mergeBase.AcceptOnlyFromAmong("trained", "original");
        var command = new Command("merge", "Merge an adapter into its base model (W + s·B·A, or DoRA's form).") { model, adapter, output, mergeBase };
        command.SetAction(parse =>
        {
            var modelDir = parse.GetValue(model)!;
            var adapterDir = parse.GetValue(adapter)!;
            Events.WorkerEventWriter.Console.Status(Events.WorkerPhases.Merge, $"merging {adapterDir} into {modelDir}");
            using var loaded = AdapterLoader.Load(modelDir, [new AdapterSource("default", adapterDir)], originalBase: parse.GetValue(mergeBase) == "original");
            LoraModel.Merge(loaded, "default");
            ModelWriter.Save(loaded, modelDir, parse.GetValue(output)!);
            Events.WorkerEventWriter.Console.Result(Events.WorkerPhases.Merge, $"merged {adapterDir} into {modelDir}: {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
