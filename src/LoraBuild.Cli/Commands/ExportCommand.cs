using System.CommandLine;
using System.Diagnostics;
using LoraBuild.Diagnostics;
using LoraBuild.Events;
using LoraBuild.Export.Gguf;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild export gguf</c>: files llama.cpp, Ollama and LM Studio load. With only <c>--model</c>, the base model;
/// with <c>--adapter</c>, the LoRA adapter as a GGUF adapter (applied on top of the base GGUF); with <c>--adapter
/// --merge</c>, the model with the adapter merged in (the only form DoRA has).
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string?>("--adapter") { Description = "PEFT adapter folder: exported as a GGUF LoRA adapter, or merged with --merge." };
        var merge = new Option<bool>("--merge") { Description = "Merge the adapter into the model and write one model GGUF." };
        var output = new Option<string>("--out") { Description = "GGUF file to write.", Required = true };
        var outType = new Option<string>("--outtype") { Description = "f32 | f16 | bf16 | q8_0: type of the matrices (norms stay f32).", DefaultValueFactory = _ => "f16" };
        outType.AcceptOnlyFromAmong([.. GgufOutTypes.Names]);
        var name = new Option<string?>("--name") { Description = "general.name of a model GGUF (default: the model folder's name)." };
        var modelfile = new Option<string?>("--modelfile") { Description = "Also write an Ollama Modelfile here (FROM, ADAPTER, PARAMETER stop), after the GGUF." };
        var modelfileFrom = new Option<string?>("--modelfile-from") { Description = $"The FROM of an adapter's Modelfile: the base model's GGUF path or Ollama name (default {OllamaModelfile.BasePlaceholder}, with a comment saying how to write it)." };
        var gguf = new Command("gguf", "Write a GGUF model (base or merged) or a GGUF LoRA adapter for llama.cpp.") { model, adapter, merge, output, outType, name, modelfile, modelfileFrom };
        gguf.SetAction(parse =>
        {
            var modelDir = parse.GetValue(model)!;
            var adapterDir = parse.GetValue(adapter);
            var outPath = parse.GetValue(output)!;
            var type = GgufOutTypes.Parse(parse.GetValue(outType)!);
            if (parse.GetValue(merge) && adapterDir is null)
                throw new LoraBuildException(ErrorCodes.GgufArguments, "--merge needs --adapter (the adapter to merge).");
            var isAdapter = adapterDir is not null && !parse.GetValue(merge);
            var modelfilePath = parse.GetValue(modelfile);
            var from = parse.GetValue(modelfileFrom);
            if (from is not null && (modelfilePath is null || !isAdapter))
                throw new LoraBuildException(ErrorCodes.ModelfileArguments,
                    "--modelfile-from names the base GGUF under an adapter; it needs --modelfile and an adapter export (a base or merged GGUF is itself the FROM).");
            var events = WorkerEventWriter.Console;
            var clock = Stopwatch.StartNew();
            var what = adapterDir is null ? "model" : parse.GetValue(merge) ? "merged model" : "LoRA adapter";
            events.Status("export", $"exporting the {what} to {outPath} ({parse.GetValue(outType)})");
            var progress = Progress(events, clock);
            if (adapterDir is null) GgufModelExporter.Export(modelDir, null, outPath, type, progress, parse.GetValue(name));
            else if (parse.GetValue(merge)) GgufModelExporter.Export(modelDir, adapterDir, outPath, type, progress, parse.GetValue(name));
            else GgufAdapterExporter.Export(modelDir, adapterDir, outPath, type, progress);
            events.Result("export", $"wrote {outPath} ({new FileInfo(outPath).Length:N0} bytes) in {clock.Elapsed.TotalSeconds:F1} s");
            if (modelfilePath is not null)
            {
                // The GGUF exists before the Modelfile that names it: a Modelfile on disk never points at a missing export.
                var written = OllamaModelfile.RelativePath(modelfilePath, outPath);
                if (isAdapter) OllamaModelfile.Write(modelfilePath, modelDir, from ?? OllamaModelfile.BasePlaceholder, written, fromIsPlaceholder: from is null);
                else OllamaModelfile.Write(modelfilePath, modelDir, written, null, fromIsPlaceholder: false);
                events.Result("export", $"wrote {modelfilePath}");
            }
            return 0;
        });
        return new Command("export", "Export models and adapters to other runtimes' formats.") { gguf };
    }

    /// <summary>One event per tensor for the tasks; about ten lines for a person reading the console.</summary>
    static Action<int, int, string> Progress(WorkerEventWriter events, Stopwatch clock) => (done, total, name) =>
    {
        if (!events.Structured && done != total && done * 10 / total == (done - 1) * 10 / total) return;
        var seconds = clock.Elapsed.TotalSeconds;
        var rate = seconds > 0 ? done / seconds : (double?)null;
        events.Progress("export", $"tensor {done}/{total}: {name}", done, total, "tensors", rate, rate is > 0 ? (total - done) / rate : null);
    };
}
