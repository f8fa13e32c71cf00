using TorchSharp;
using LoraBuild.Native;
using System.Diagnostics;
using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Benchmarks;

/// <summary>
/// One benchmark case: a model shape, the LoRA variant and target set; <paramref name="FusedLoss"/> false takes the
/// plain head + cross-entropy path (full float32 logits) for comparison.
/// </summary>
public sealed record BenchCase(string Shape, string Method, string Targets, bool GradientCheckpointing = false, bool FusedLoss = true)
{
    public string Key => $"{Shape}/{Method}/{Targets}{(GradientCheckpointing ? "/gc" : "")}{(FusedLoss ? "" : "/plain-loss")}";
}

/// <summary>
/// A case's measurements. <see cref="PeakGiB"/>: on CUDA the device memory in use above the level after CUDA start-up
/// (NVML); on CPU the process's peak resident memory while training, above its level before the model was made. The
/// floor fields are libtorch's own time for the step's frozen GEMMs and attention (<see cref="StepFloor"/>), when measured.
/// </summary>
public sealed record BenchResult(string Shape, string Method, string Targets, bool GradientCheckpointing, bool FusedLoss, string Device,
    double TokensPerSecond, double StepMilliseconds, double? PeakGiB, long Trainable, double Loss,
    double ForwardMilliseconds, double BackwardMilliseconds, double OptimizerMilliseconds,
    double? FloorGemmMilliseconds = null, double? FloorAttentionMilliseconds = null, double? FloorGemmTeraflopsPerSecond = null, double? StepOverFloor = null);

/// <summary>
/// The training step of peft_bench.py (random-init LLaMA shapes, B x T random tokens, labels = inputs, AdamW lr 2e-4,
/// r=16 alpha=32, 3 warm-up steps, then timed steps), for LoRA, DoRA, QLoRA (NF4) and LoRA over an int8 base
/// (<c>int8</c>: load_in_8bit's row-wise int8 weights) over q,v or all linear layers.
/// </summary>
public static class TrainingBenchmark
{
    public static readonly IReadOnlyDictionary<string, ModelConfig> Shapes = new Dictionary<string, ModelConfig>
    {
        ["llama-134m"] = Shape(32000, 768, 2048, 12, 12, 12),
        ["tinyllama-1.1b"] = Shape(32000, 2048, 5632, 22, 32, 4),
        // CPU-sized shapes for a 2-core machine.
        ["llama-tiny"] = Shape(512, 128, 256, 4, 4, 2),
        ["llama-small"] = Shape(4096, 256, 688, 6, 8, 4),
    };

    public static readonly IReadOnlyList<string> Methods = ["lora", "dora", "qlora", "int8"];
    /// <summary>qv: q_proj and v_proj; all: every linear layer but the output head (PEFT's all-linear).</summary>
    public static readonly IReadOnlyList<string> TargetSets = ["qv", "all"];

    static ModelConfig Shape(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads) => new()
    {
        ModelType = "llama",
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDim = hidden / heads,
        RmsNormEps = 1e-6,
        Rope = new RopeParameters("default", 10000.0),
        MaxPositionEmbeddings = 2048,
    };

    public static BenchResult Run(BenchCase c, int batch, int sequence, int warmup, int steps, Device device, ScalarType dtype, bool measureFloor, Action<string> log, int phaseSteps = 3)
    {
        var config = Shapes[c.Shape];
        // Create the CUDA context first, so the baseline excludes it as PyTorch's allocator statistics do.
        using (ones(1, device: device)) Synchronize(device);
        var onCuda = device.type == TorchSharp.DeviceType.CUDA;
        using var sampler = onCuda ? GpuMemorySampler.TryStart() : null;
        var hostBaseline = onCuda ? 0 : HostMemory.ResidentBytes();
        using var model = ModelInitializer.RandomInit(config, seed: 0, dtype: dtype, device: device);
        var targets = c.Targets == "qv" ? new[] { "q_proj", "v_proj" } : new[] { LoraConfig.AllLinear };
        var loraConfig = LoraConfig.ForTargets(targets) with { R = 16, LoraAlpha = 32, UseDora = c.Method == "dora" };
        if (c.Method == "qlora") LoraModel.QuantizeBaseNf4(model, doubleQuantization: true);
        if (c.Method == "int8") LoraModel.QuantizeBase(model, new Quantization.BaseQuantization(Quantization.BaseQuantization.Int8));
        manual_seed(0);
        LoraModel.AddAdapter(model, "bench", loraConfig);
        LoraModel.SetActiveAdapters(model, "bench");
        model.Model.GradientCheckpointing = c.GradientCheckpointing;
        var trainable = LoraModel.AdapterParameters(model, "bench").Select(p => p.Parameter).ToList();
        using var optimizer = new Training.AdamW(trainable, 0.9, 0.999, 1e-8, 0.01, paged: false);
        model.train();
        using var ids = randint(0, config.VocabSize, [batch, sequence], dtype: ScalarType.Int64, device: device);
        // On CPU the peak counts from here, above the resident size before the model: the model stays in, but not the
        // dense float32 copy a random NF4 base is made from.
        if (!onCuda) HostMemory.ResetPeak();
        double loss = 0;
        var predicted = batch * (sequence - 1);
        Tensor MeanLoss() => c.FusedLoss ? model.TrainingLoss(ids, ids, predicted) : CausalLM.TokenLossSum(model.Forward(ids), ids).DividedBy(predicted);
        void Step()
        {
            using var scope = NewDisposeScope();
            var tokenLoss = MeanLoss();
            tokenLoss.backward();
            optimizer.Update(2e-4);
            optimizer.ZeroGrad();
            loss = tokenLoss.item<float>();
            if (c.GradientCheckpointing) CheckpointedLayer.ReleaseFinishedNodes();
        }
        for (var i = 0; i < warmup; i++) Step();
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < steps; i++) Step();
        Synchronize(device);
        var seconds = clock.Elapsed.TotalSeconds / steps;
        var peakBytes = onCuda ? sampler?.PeakAboveBaseline : HostMemory.PeakBytes() - hostBaseline;
        var peak = peakBytes / (double)(1L << 30);

        // Where a step's time goes: the same step with a synchronisation after each phase.
        double forward = 0, backward = 0, update = 0;
        var profiled = phaseSteps;
        for (var i = 0; i < profiled; i++)
        {
            using var scope = NewDisposeScope();
            var phase = Stopwatch.StartNew();
            var tokenLoss = MeanLoss();
            Synchronize(device);
            forward += phase.Elapsed.TotalMilliseconds;
            phase.Restart();
            tokenLoss.backward();
            Synchronize(device);
            backward += phase.Elapsed.TotalMilliseconds;
            phase.Restart();
            optimizer.Update(2e-4);
            optimizer.ZeroGrad();
            Synchronize(device);
            update += phase.Elapsed.TotalMilliseconds;
        }
        var result = new BenchResult(c.Shape, c.Method, c.Targets, c.GradientCheckpointing, c.FusedLoss, device.type.ToString().ToLowerInvariant(),
            batch * sequence / seconds, seconds * 1000, peak, trainable.Sum(p => p.numel()), loss,
            profiled > 0 ? forward / profiled : 0, profiled > 0 ? backward / profiled : 0, profiled > 0 ? update / profiled : 0);
        if (measureFloor)
        {
            var floor = StepFloor.Measure(config, batch, sequence, device, dtype);
            result = result with
            {
                FloorGemmMilliseconds = floor.GemmMilliseconds, FloorAttentionMilliseconds = floor.AttentionMilliseconds,
                FloorGemmTeraflopsPerSecond = floor.GemmTeraflopsPerSecond, StepOverFloor = seconds * 1000 / floor.Milliseconds,
            };
        }
        log(JsonSerializer.Serialize(result));
        return result;
    }

    static void Synchronize(Device device) => StepFloor.Synchronize(device);
}
