using System.Diagnostics;
using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using static TorchSharp.torch;

namespace LoraBuild.Benchmarks;

/// <summary>
/// A real-size model folder's costs: load time (with NF4 quantisation while loading for QLoRA), the part of it spent
/// quantising, managed bytes allocated while loading (the checkpoint must not pass through managed memory), peak
/// resident memory, seconds per training step and the adapter's size on disk.
/// </summary>
public sealed record CheckpointBenchResult(string Model, string ModelType, long Parameters, string Method, string Device, string DType,
    int Batch, int Sequence, double LoadSeconds, double QuantizeSeconds, double ManagedMiBAllocatedWhileLoading,
    double ResidentGiBAfterLoad, double PeakResidentGiB, double SecondsPerStep, double TokensPerSecond, long Trainable,
    long AdapterBytesOnDisk, double FirstLoss, double LastLoss);

public static class CheckpointBenchmark
{
    public static CheckpointBenchResult Run(string modelDirectory, string method, int batch, int sequence, int warmup, int steps,
        int rank, Device device, ScalarType dtype, Action<string> log)
    {
        var quantize = method switch
        {
            "qlora" or "qdora" => new QuantizedLoading(new Quantization.BaseQuantization(Quantization.BaseQuantization.Nf4, DoubleQuantization: true)),
            "int8" => new QuantizedLoading(new Quantization.BaseQuantization(Quantization.BaseQuantization.Int8)),
            _ => null,
        };
        var managedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        using var model = ModelLoader.Load(modelDirectory, dtype, device, quantize);
        var loadSeconds = clock.Elapsed.TotalSeconds;
        var managedMiB = (GC.GetTotalAllocatedBytes(precise: true) - managedBefore) / (double)(1 << 20);
        var residentAfterLoad = HostMemory.ResidentBytes() / (double)(1L << 30);
        var parameters = model.BaseParameterCount();
        log($"loaded {modelDirectory} ({model.Config.ModelType}, {parameters:N0} parameters) in {loadSeconds:0.0} s " +
            $"({quantize?.Scheme.Scheme ?? "no"} quantisation {quantize?.QuantizationTime.TotalSeconds ?? 0:0.0} s), {managedMiB:0.0} MiB managed allocations, {residentAfterLoad:0.00} GiB resident");

        var loraConfig = LoraConfig.ForTargets(LoraConfig.AllLinear) with { R = rank, LoraAlpha = 2 * rank, UseDora = method is "dora" or "qdora" };
        manual_seed(0);
        LoraModel.AddAdapter(model, "bench", loraConfig);
        LoraModel.SetActiveAdapters(model, "bench");
        var trainable = LoraModel.AdapterParameters(model, "bench").Select(p => p.Parameter).ToList();
        foreach (var p in trainable) p.requires_grad = true;
        using var optimizer = new Training.AdamW(trainable, 0.9, 0.999, 1e-8, 0.0, paged: false);
        model.train();
        using var ids = randint(0, model.Config.VocabSize, [batch, sequence], dtype: ScalarType.Int64, device: device);
        var predicted = batch * (sequence - 1);
        var losses = new List<double>();
        void Step()
        {
            using var scope = NewDisposeScope();
            var loss = model.TrainingLoss(ids, ids, predicted);
            loss.backward();
            optimizer.Update(1e-4);
            optimizer.ZeroGrad();
            losses.Add(loss.item<float>());
        }
        for (var i = 0; i < warmup; i++) Step();
        clock.Restart();
        for (var i = 0; i < steps; i++)
        {
            Step();
            log($"step {i + 1}/{steps}: {clock.Elapsed.TotalSeconds / (i + 1):0.00} s/step, loss {losses[^1]:0.0000}");
        }
        var secondsPerStep = clock.Elapsed.TotalSeconds / steps;

        var adapterFolder = Path.Combine(Path.GetTempPath(), $"lorabuild-bench-adapter-{Guid.NewGuid():N}");
        long adapterBytes;
        try
        {
            PeftAdapter.Save(adapterFolder, model, "bench", loraConfig);
            adapterBytes = Directory.GetFiles(adapterFolder).Sum(f => new FileInfo(f).Length);
        }
        finally
        {
            if (Directory.Exists(adapterFolder)) Directory.Delete(adapterFolder, recursive: true);
        }
        var result = new CheckpointBenchResult(Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory)), model.Config.ModelType, parameters,
            method, device.type.ToString().ToLowerInvariant(), dtype.ToString(), batch, sequence, loadSeconds, quantize?.QuantizationTime.TotalSeconds ?? 0,
            managedMiB, residentAfterLoad, HostMemory.PeakBytes() / (double)(1L << 30), secondsPerStep, batch * sequence / secondsPerStep,
            trainable.Sum(p => p.numel()), adapterBytes, losses[0], losses[^1]);
        log(JsonSerializer.Serialize(result));
        return result;
    }
}
