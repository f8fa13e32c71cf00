using System.Text.Json;
using LoraBuild.SafeTensors;
using LoraBuild.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// fp16 mixed precision (Axolotl fp16: true = HF Trainer fp16): float16 compute over a float16 base, float32 LoRA weights,
/// and torch.amp.GradScaler's dynamic loss scale (65536, halved with the step skipped on overflow, doubled after 2000
/// clean steps), whose state survives --resume.
/// </summary>
[Collection(SerialTrainingCollection.Name)]
public class Fp16TrainingTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public Fp16TrainingTests() => TestPaths.EnsureTorch();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>
    /// GradScaler's update rule (torch _amp_update_scale_) worked by hand with growth_interval 3: an overflow halves the
    /// scale and resets the tracker; the 3rd clean step in a row doubles it.
    /// </summary>
    [Fact]
    public void Loss_scale_follows_grad_scalers_rule()
    {
        var scaler = new LossScaler(growthInterval: 3);
        Assert.Equal(65536f, scaler.Scale);
        // inf | ok ok ok (grow) | ok inf | ok ok ok (grow) | inf inf
        bool[] overflow = [true, false, false, false, false, true, false, false, false, true, true];
        (float Scale, int Tracker, long Skipped)[] expected =
        [
            (32768, 0, 1), (32768, 1, 1), (32768, 2, 1), (65536, 0, 1), (65536, 1, 1), (32768, 0, 2),
            (32768, 1, 2), (32768, 2, 2), (65536, 0, 2), (32768, 0, 3), (16384, 0, 4),
        ];
        for (var i = 0; i < overflow.Length; i++)
        {
            scaler.Update(overflow[i]);
            Assert.Equal(expected[i], (scaler.Scale, scaler.GrowthTracker, scaler.SkippedSteps));
        }
        // torch's defaults.
        Assert.Equal((65536f, 2.0, 0.5, 2000), (LossScaler.InitScale, LossScaler.GrowthFactor, LossScaler.BackoffFactor, new LossScaler().Interval));
        // Growth stops where the scale would no longer be a finite float32.
        var top = new LossScaler(growthInterval: 1);
        top.Load(new LossScaler.State(float.MaxValue / 1.5f, 0, 0));
        top.Update(false);
        Assert.Equal(float.MaxValue / 1.5f, top.Scale);
        Assert.Equal(0, top.GrowthTracker);
    }

    /// <summary>Unscaling divides the float32 gradients by the scale and reports any inf or NaN among them.</summary>
    [Fact]
    public void Unscaling_divides_gradients_and_finds_non_finite_ones()
    {
        var a = new TorchSharp.Modules.Parameter(zeros(3));
        var b = new TorchSharp.Modules.Parameter(zeros(2, 2));
        using var optimizer = new AdamW([a, b], 0.9, 0.999, 1e-8, 0, paged: false);
        using (no_grad())
        {
            a.grad!.copy_(tensor(new[] { 65536f, -32768f, 1f }));
            b.grad!.copy_(tensor(new[] { 2f, 4f, 8f, 16f }).view(2, 2));
        }
        Assert.True(optimizer.UnscaleGradients(new LossScaler().InverseScale));
        Assert.Equal(new[] { 1f, -0.5f, 1f / 65536 }, a.grad!.data<float>().ToArray());
        Assert.Equal(new[] { 2f / 65536, 4f / 65536, 8f / 65536, 16f / 65536 }, b.grad!.data<float>().ToArray());
        using (no_grad()) b.grad!.view(-1)[3] = tensor(float.PositiveInfinity);
        Assert.False(optimizer.UnscaleGradients(1f));
        using (no_grad()) b.grad!.view(-1)[3] = tensor(float.NaN);
        Assert.False(optimizer.UnscaleGradients(1f));
    }

    string Config(string extra, int maxSteps = 12)
    {
        var digits = Path.Combine(TestPaths.RepoRoot, "examples", "digits");
        var train = Path.Combine(dir, "train.jsonl");
        if (!File.Exists(train)) File.WriteAllLines(train, File.ReadLines(Path.Combine(digits, "spell-train.jsonl")).Take(64));
        var path = Path.Combine(dir, $"run{Directory.GetFiles(dir, "*.yml").Length}.yml");
        File.WriteAllText(path, $"""
            base_model: {Path.Combine(digits, "base")}
            dataset: {train}
            output_dir: {Path.Combine(dir, Path.GetFileNameWithoutExtension(path))}
            r: 4
            lora_alpha: 8
            micro_batch_size: 8
            sequence_len: 32
            max_steps: {maxSteps}
            learning_rate: 0.005
            lr_scheduler: linear
            device: cpu

            """ + extra);
        return path;
    }

    static TrainingResult Train(string path, List<string>? log = null, bool resume = false, Action<long, IReadOnlyList<TorchSharp.Modules.Parameter>>? gradients = null,
        CancellationToken cancellation = default) =>
        new Trainer(TrainingConfigLoader.Load(path), e => log?.Add(e.Message)) { GradientsReady = gradients }.Run(resume, cancellation);

    static Dictionary<string, float[]> Adapter(TrainingResult result) => TrainedAdapterFiles.Values(result);

    static JsonElement Metrics(TrainingResult result) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(result.OutputDirectory, Trainer.MetricsFile))).RootElement;

    [Fact]
    public void Fp16_training_follows_the_float32_loss_curve()
    {
        var log = new List<string>();
        var fp32 = Train(Config(""));
        var fp16 = Train(Config("fp16: true\n"), log);
        var reference = fp32.Curve.Select(p => p.Loss).ToArray();
        var half = fp16.Curve.Select(p => p.Loss).ToArray();
        Assert.Equal(reference.Length, half.Length);
        // The loss falls, and every step stays within float16 rounding of float32's (measured: worst 0.075% here, no step skipped).
        Assert.True(reference[^1] < 0.5 * reference[0], string.Join(", ", reference));
        for (var i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(half[i] - reference[i]) <= 0.005 * reference[i], $"step {i + 1}: fp16 {half[i]} vs float32 {reference[i]}");
        Assert.Equal((0L, 65536f), (fp16.SkippedSteps, fp16.LossScale));
        Assert.Contains(log, l => l.Contains("note: fp16: float16 compute over a float16 base"));
        Assert.Contains(log, l => l.Contains("cpu Float16"));
        // The adapter stays float32 (PEFT's autocast_adapter_dtype), and the manifest and metrics say fp16.
        var manifest = LoraBuild.Adapters.AdapterManifest.Load(Path.Combine(fp16.OutputDirectory, Trainer.AdapterFolder, LoraBuild.Adapters.AdapterManifest.FileName));
        Assert.Equal("fp16", manifest.MixedPrecision);
        Assert.Null(LoraBuild.Adapters.AdapterManifest.Load(Path.Combine(fp32.OutputDirectory, Trainer.AdapterFolder, LoraBuild.Adapters.AdapterManifest.FileName)).MixedPrecision);
        using (var file = SafeTensorsFile.Open(Path.Combine(fp16.OutputDirectory, Trainer.AdapterFolder, "adapter_model.safetensors")))
        using (var any = file.Read(file.Tensors.Keys.First()))
            Assert.Equal(ScalarType.Float32, any.dtype);
        var metrics = Metrics(fp16);
        Assert.Equal("fp16", metrics.GetProperty("mixed_precision").GetString());
        Assert.Equal(fp16.SkippedSteps, metrics.GetProperty("skipped_steps").GetInt64());
        Assert.Equal(fp16.LossScale!.Value, metrics.GetProperty("loss_scale").GetSingle());
    }

    /// <summary>Puts an inf into one gradient of step <paramref name="at"/>, as a float16 overflow in backward would.</summary>
    static Action<long, IReadOnlyList<TorchSharp.Modules.Parameter>> InfGradientAt(long at, Dictionary<long, float[]>? before = null) => (step, trainable) =>
    {
        // The trainable values as this step's update finds them (the previous step's result).
        before?.Add(step, trainable.SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray());
        if (step != at) return;
        using (no_grad()) trainable[3].grad!.view(-1)[1] = tensor(float.PositiveInfinity);
    };

    [Fact]
    public void A_step_whose_gradients_overflow_is_skipped_and_halves_the_scale()
    {
        var log = new List<string>();
        var seen = new Dictionary<long, float[]>();
        var result = Train(Config("fp16: true\n", maxSteps: 4), log, gradients: InfGradientAt(2, seen));
        // Step 2 changed nothing: the weights step 3 starts from are the ones step 2 started from; steps 1 and 3 did change them.
        Assert.Equal(seen[2], seen[3]);
        Assert.NotEqual(seen[1], seen[2]);
        Assert.NotEqual(seen[3], seen[4]);
        Assert.Contains("step 2: fp16 gradients overflowed at loss scale 65536; the step is skipped and the loss scale is now 32768", log);
        Assert.Equal((1L, 32768f), (result.SkippedSteps, result.LossScale));
        // As HF Trainer, the learning-rate schedule did not advance on the skipped step: step 3 uses the rate step 2 had
        // (linear over 4 steps: 0.005, 0.00375, 0.00375, 0.0025).
        Assert.Equal(new[] { 0.005, 0.00375, 0.00375, 0.0025 }, result.Curve.Select(p => Math.Round(p.LearningRate, 10)).ToArray());
        var metrics = Metrics(result);
        Assert.Equal(1, metrics.GetProperty("skipped_steps").GetInt64());
        Assert.Equal(32768, metrics.GetProperty("loss_scale").GetDouble());
    }

    [Fact]
    public void Resume_restores_the_loss_scale_and_the_skipped_steps()
    {
        var whole = Train(Config("fp16: true\nsave_steps: 2\n", maxSteps: 5), gradients: InfGradientAt(2));
        var path = Config("fp16: true\nsave_steps: 2\n", maxSteps: 5);
        // Interrupted right after the checkpoint at step 2 (written after step 2 was skipped: scale 32768, 1 skipped).
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(TrainingConfigLoader.Load(path), e =>
        {
            if (e.Message.StartsWith("checkpoint:")) cancel.Cancel();
        }) { GradientsReady = InfGradientAt(2) }.Run(resume: false, cancel.Token));
        var log = new List<string>();
        var resumed = Train(path, log, resume: true);
        Assert.Contains(log, l => l.Contains("at step 2/5 (loss scale 32768, 1 steps skipped so far)"));
        Assert.Equal((1L, 32768f), (resumed.SkippedSteps, resumed.LossScale));
        // The same adapter as the uninterrupted run, bit for bit: the resumed schedule and AdamW's step count leave out the skipped step.
        var expected = Adapter(whole);
        var actual = Adapter(resumed);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected) Assert.Equal(values, actual[name]);
        Assert.Equal(whole.Curve.Select(p => p.LearningRate), resumed.Curve.Select(p => p.LearningRate));
    }
}
