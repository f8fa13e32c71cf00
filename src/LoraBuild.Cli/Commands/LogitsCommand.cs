using System.CommandLine;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild logits</c>: logits of a model (optionally with an adapter, optionally merged) for given token ids.</summary>
public static class LogitsCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string?>("--adapter") { Description = "PEFT adapter folder to apply." };
        var merge = new Option<bool>("--merge") { Description = "Merge the adapter into the base weights before running." };
        var inputIds = new Option<string>("--input-ids") { Description = "safetensors file with an int64 tensor 'input_ids' [batch, seq].", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file to write float32 'logits' [batch, seq, vocab] to.", Required = true };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var command = new Command("logits", "Compute logits for token ids (fp32 on CPU by default).") { model, adapter, merge, inputIds, output, device, dtype };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(adapter), parse.GetValue(merge), parse.GetValue(inputIds)!,
            parse.GetValue(output)!, parse.GetValue(device)!, parse.GetValue(dtype)));
        return command;
    }

    static int Run(string modelDir, string? adapterDir, bool merge, string inputIdsPath, string outputPath, string deviceName, string? dtypeName)
    {
        if (merge && adapterDir is null) throw new LoraBuildException(ErrorCodes.BadArgument, "--merge needs --adapter.");
        var (device, dtype) = CommonOptions.Resolve(deviceName, dtypeName);
        using var scope = NewDisposeScope();
        var ids = ReadInputIds(inputIdsPath).to(device);
        using var model = AdapterLoader.Load(modelDir, adapterDir is null ? [] : [new AdapterSource("default", adapterDir)], dtype, device);
        if (adapterDir is not null)
        {
            if (merge) LoraModel.Merge(model, "default");
            else LoraModel.SetActiveAdapters(model, "default");
        }
        model.eval();
        using var _ = no_grad();
        var vocab = model.Config.VocabSize;
        var maxId = ids.max().item<long>();
        if (ids.min().item<long>() < 0 || maxId >= vocab)
            throw new LoraBuildException(ErrorCodes.InputFileInvalid, $"input_ids must lie in [0, {vocab}); found {maxId}.", inputIdsPath);
        var logits = model.Forward(ids).to_type(ScalarType.Float32).cpu();
        SafeTensorsWriter.Write(outputPath, [KeyValuePair.Create("logits", logits)]);
        Console.WriteLine($"wrote logits [{string.Join(", ", logits.shape)}] to {outputPath}");
        return 0;
    }

    static Tensor ReadInputIds(string path)
    {
        if (!File.Exists(path)) throw new LoraBuildException(ErrorCodes.InputFileInvalid, "File not found.", path);
        using var file = SafeTensorsFile.Open(path);
        if (!file.Tensors.TryGetValue("input_ids", out var info))
            throw new LoraBuildException(ErrorCodes.InputFileInvalid, "No tensor 'input_ids' in this file.", path);
        if (info.DType != SafeTensorDType.I64 || info.Shape.Length != 2)
            throw new LoraBuildException(ErrorCodes.InputFileInvalid, $"'input_ids' must be I64 [batch, seq]; it is {info.DType} [{string.Join(", ", info.Shape)}].", path);
        if (info.ElementCount == 0)
            throw new LoraBuildException(ErrorCodes.InputFileInvalid, $"'input_ids' [{string.Join(", ", info.Shape)}] holds no tokens; batch and seq must be at least 1.", path);
        return file.Read("input_ids");
    }
}
