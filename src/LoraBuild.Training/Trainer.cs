using LoraBuild.Events;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Evaluation;
using LoraBuild.Generation;
using LoraBuild.IO;
using LoraBuild.Models;
using LoraBuild.Native;
using LoraBuild.Quantization;
using LoraBuild.SafeTensors;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Training;

/// <summary>One point of the loss curve.</summary>
public sealed record LossPoint(long Step, double Loss, double LearningRate, double TokensPerSecond);

/// <summary>An evaluation loss measured during or at the end of training.</summary>
public sealed record EvalPoint(long Step, double Loss);

/// <summary>Draws the loss curve into the run folder (the worker's plots SVG and PNG; the default, a small SVG).</summary>
public interface ILossChart
{
    /// <summary>Writes its files atomically into <paramref name="outputDirectory"/>.</summary>
    void Write(string outputDirectory, string title, IReadOnlyList<LossPoint> train, IReadOnlyList<EvalPoint> eval);
}

/// <summary>The dependency-free default: loss_curve.svg.</summary>
public sealed class SvgLossChart : ILossChart
{
    public void Write(string outputDirectory, string title, IReadOnlyList<LossPoint> train, IReadOnlyList<EvalPoint> eval) =>
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, Trainer.LossCurveFile), LossCurve.Svg(train, title));
}

/// <summary>What a finished run produced.</summary>
public sealed record TrainingResult(string OutputDirectory, string Fingerprint, long Steps, double FinalLoss, IReadOnlyList<LossPoint> Curve,
    EvalMetrics? Eval, EvalMetrics? BaseEval, long TrainableParameters, long TotalParameters, double TokensPerSecond, long PeakMemoryBytes, double Seconds)
{
    /// <summary>The step early_stopping_patience ended training at (then <see cref="Steps"/> is that step); null when it ran to the end.</summary>
    public long? StoppedEarlyAtStep { get; init; }
    /// <summary>load_best_model_at_end: the step whose adapter was written (the best evaluation's) and its eval loss; null when it is off or no save fell on a best evaluation.</summary>
    public long? BestStep { get; init; }
    public double? BestEvalLoss { get; init; }
    /// <summary>"fp16" (float16 with loss scaling), "float16" (without), "bf16", or null for float32.</summary>
    public string? MixedPrecision { get; init; }
    /// <summary>fp16: the loss scale at the end and the steps skipped because their gradients overflowed.</summary>
    public float? LossScale { get; init; }
    public long SkippedSteps { get; init; }
}

/// <summary>
/// Fine-tunes a model: LoRA / DoRA (optionally over an NF4 base: QLoRA / QDoRA) or every weight (<c>method: full</c>).
/// Runs survive: checkpoints every <c>save_steps</c> written atomically, <c>--resume</c> continues from the newest one
/// whose fingerprint matches, and on CPU the result is bit-identical to an uninterrupted run.
/// Output folder: <c>adapter/</c> (PEFT) or <c>model/</c> (full), <c>metrics.json</c>, <c>loss_curve.svg</c>, and
/// <c>run.json</c>, written last, which marks the output complete.
/// </summary>
public sealed class Trainer
{
    public const string AdapterFolder = RunLayout.AdapterFolder;
    public const string ModelFolder = RunLayout.ModelFolder;
    public const string MetricsFile = RunLayout.MetricsFile;
    public const string LossCurveFile = RunLayout.LossCurveSvgFile;
    public const string RunFile = RunLayout.RunFile;
    public const string ProbeFile = "probe_logits.safetensors";
    public const string CheckpointsFolder = RunLayout.CheckpointsFolder;
    const string AdapterName = "default";

    readonly TrainingConfig config;
    readonly Action<WorkerEvent> events;
    readonly ILossChart chart;

    /// <param name="events">Where the run says what it is doing: the worker passes WorkerEventWriter.Console.Write (the
    /// tasks read the events; a terminal gets their text).</param>
    public Trainer(TrainingConfig config, Action<WorkerEvent> events, ILossChart? chart = null)
    {
        this.config = config;
        this.events = events;
        this.chart = chart ?? new SvgLossChart();
    }

    /// <summary>A line worth keeping (a result, a note, a coded warning).</summary>
    void Result(string phase, string message) => events(new WorkerEvent { Phase = phase, Kind = WorkerEventKinds.Result, Message = message });

    /// <summary>A transient state (what is being evaluated, how far): a live line.</summary>
    void Status(string phase, string message) => events(new WorkerEvent { Phase = phase, Kind = WorkerEventKinds.Status, Message = message });

    /// <summary>A run's encoded data and what evaluation needs from the tokenizer.</summary>
    sealed record RunData(HfTokenizer Tokenizer, ChatTemplate Chat, IReadOnlyList<TokenizedExample> Train,
        IReadOnlyList<RawExample>? EvalRaw, IReadOnlyList<TokenizedExample>? EvalEncoded, IReadOnlySet<int> StopIds, int PadId) : IDisposable
    {
        /// <summary>What holds the training examples (memory-mapped files), released when the run ends.</summary>
        public IDisposable? Storage { get; init; }
        public void Dispose() => Storage?.Dispose();
    }

    /// <summary>What the loop did: <c>TotalSteps</c> is the steps taken (fewer than planned when early stopping ended it);
    /// <c>BestStep</c> the step whose weights the model holds under load_best_model_at_end (an earlier one when it put them back).</summary>
    sealed record StepsOutcome(long TotalSteps, IReadOnlyList<LossPoint> Curve, double LastLoss, long Tokens, double Seconds, List<EvalPoint> EvalCurve,
        long? StoppedEarlyAt = null, long? BestStep = null, LossScaler? Scaler = null);

    /// <summary>
    /// Called after each step's backward with the step (1-based) and the trainable tensors, whose .grad hold the step's
    /// (loss-scaled) gradients: the fp16 tests put an inf into one here, as an overflow would.
    /// </summary>
    public Action<long, IReadOnlyList<Parameter>>? GradientsReady { get; init; }

    bool Full => config.Method == "full";

    public TrainingResult Run(bool resume, CancellationToken cancellation = default)
    {
        config.Validate("training configuration");
        foreach (var note in config.Notes) Result(WorkerPhases.Note, note);
        var clock = Stopwatch.StartNew();
        var (device, dtype) = DeviceSelection.Resolve(config.Device, config.Dtype, ErrorCodes.ConfigValueInvalid, $"device: {config.Device}");
        if (Full && dtype != ScalarType.Float32)
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid, "method: full keeps float32 weights (they are the optimizer's master values); set dtype: float32 (bf16 and fp16 mixed precision are for adapters here).");
        // The output folder before anything else: a file in the way, a read-only disk or another run holding it fails now.
        using var outputFolder = OutputFolder.Open(config.OutputDir!, RunFile);
        var output = outputFolder.Path;

        // Data first: a bad line fails in seconds, before the model is loaded.
        using var data = LoadData();
        var description = RunFingerprint.Describe(config, device.type.ToString().ToLowerInvariant(), DatasetSource);
        var fingerprint = RunFingerprint.Compute(description);

        // A quantised base (QLoRA's NF4, load_in_8bit's int8) is quantised as each weight is read, so the dense model never exists whole.
        var quantization = Full ? null : BaseQuantization.For(config.Quantization, config.DoubleQuant);
        using var model = ModelLoader.Load(config.BaseModel!, dtype, device, quantization is null ? null : new QuantizedLoading(quantization));
        var loraConfig = config.ToLoraConfig();
        var trainable = PrepareModel(model, loraConfig);
        var trainableCount = trainable.Sum(p => p.numel());
        var totalCount = model.BaseParameterCount() + (Full ? 0 : trainableCount);
        Result(WorkerPhases.Loading, $"model: {model.Config.ModelType}, {totalCount.ToString("N0", CultureInfo.InvariantCulture)} parameters, " +
            $"{trainableCount.ToString("N0", CultureInfo.InvariantCulture)} trainable ({100.0 * trainableCount / totalCount:0.###}%), " +
            $"{(Full ? "full fine-tuning" : $"{(config.UseDora ? "DoRA" : "LoRA")} r={config.R} alpha={config.LoraAlpha}{(quantization is null ? "" : " over " + quantization.Description)}")}" +
            $"{(loraConfig.ModulesToSave is not null ? $", {string.Join(" and ", ModulesToSave.Resolve(model, loraConfig))} trained whole (modules_to_save)" : "")}, " +
            $"{device.type.ToString().ToLowerInvariant()} {dtype}");

        outputFolder.CheckFreeSpace(RunBytesNeeded(trainable));
        using var optimizer = new AdamW(trainable, config.AdamBeta1, config.AdamBeta2, config.AdamEpsilon, config.WeightDecay, config.Optimizer == "paged_adamw");
        var checkpoints = new CheckpointStore(Path.Combine(output, CheckpointsFolder), config.SaveTotalLimit);
        var steps = TrainSteps(model, data, trainable, optimizer, checkpoints, fingerprint, resume, cancellation);
        var (eval, baseEval) = FinalEvaluation(model, data);
        try
        {
            return WriteOutputs(model, data, loraConfig, output, fingerprint, description, steps, eval, baseEval, trainableCount, totalCount, checkpoints, clock);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LoraBuildException(InjectedFault.IsDiskFull(e) ? ErrorCodes.DiskFull : ErrorCodes.OutputWriteFailed,
                $"Writing the finished run failed: {e.Message}. The output is not marked complete; the checkpoints are kept and the next build resumes from the last one.", output);
        }
    }

    TrainingResult WriteOutputs(CausalLM model, RunData data, LoraConfig loraConfig, string output, string fingerprint, IReadOnlyList<string> description,
        StepsOutcome steps, EvalMetrics? eval, EvalMetrics? baseEval, long trainableCount, long totalCount, CheckpointStore checkpoints, Stopwatch clock)
    {
        if (Full) ModelWriter.Save(model, config.BaseModel!, Path.Combine(output, ModelFolder));
        else
        {
            var manifest = new AdapterManifest(config.Quantization, config.DoubleQuant, ModelHash.Sha256(config.BaseModel!), fingerprint, RunFingerprint.WorkerVersion)
            {
                MixedPrecision = MixedPrecision(model.DType),
                // Recorded only for a Hub base (a commit is known): a consumer can then find it in the HF cache by id.
                BaseModelId = config.BaseModelCommit is null ? null : config.BaseModelId,
                BaseModelCommit = config.BaseModelCommit,
            };
            PeftAdapter.Save(Path.Combine(output, AdapterFolder), model, AdapterName, loraConfig,
                new Dictionary<string, string> { [AdapterManifest.FileName] = manifest.ToJson() });
        }
        WriteProbe(model, data.Train[0], Path.Combine(output, ProbeFile));

        var result = new TrainingResult(output, fingerprint, steps.TotalSteps, steps.LastLoss, steps.Curve, eval, baseEval, trainableCount, totalCount,
            steps.Tokens / Math.Max(1e-9, steps.Seconds), HostMemory.PeakBytes(), clock.Elapsed.TotalSeconds)
        {
            StoppedEarlyAtStep = steps.StoppedEarlyAt,
            BestStep = steps.BestStep,
            BestEvalLoss = steps.BestStep is { } bestStep ? steps.EvalCurve.Last(p => p.Step == bestStep).Loss : null,
            MixedPrecision = MixedPrecision(model.DType),
            LossScale = steps.Scaler?.Scale,
            SkippedSteps = steps.Scaler?.SkippedSteps ?? 0,
        };
        // The final evaluation is the last step's point, unless that step was evaluated already or an earlier step's adapter was put back.
        if (eval is not null && (steps.BestStep ?? steps.TotalSteps) == steps.TotalSteps && steps.EvalCurve.LastOrDefault()?.Step != steps.TotalSteps)
            steps.EvalCurve.Add(new EvalPoint(steps.TotalSteps, eval.EvalLoss));
        AtomicFile.WriteAllText(Path.Combine(output, MetricsFile), MetricsJson(result, steps.EvalCurve));
        chart.Write(output, config.AdapterName ?? (Full ? "full fine-tuning" : Path.GetFileName(output)), steps.Curve, steps.EvalCurve);
        // run.json last: its presence marks the output complete.
        AtomicFile.WriteAllText(Path.Combine(output, RunFile), JsonSerializer.Serialize(new
        {
            fingerprint,
            inputs = description,
            steps = steps.TotalSteps,
            output = Full ? ModelFolder : AdapterFolder,
        }, new JsonSerializerOptions { WriteIndented = true }));
        checkpoints.DeleteAll();
        Result(WorkerPhases.Training, string.Create(CultureInfo.InvariantCulture,
            $"done: {steps.TotalSteps} steps{(steps.StoppedEarlyAt is { } stop ? $" (stopped early at step {stop})" : "")}{(steps.BestStep is { } kept && kept != steps.TotalSteps ? $" (adapter of step {kept}, the best evaluation)" : "")} in {steps.Seconds:0.0}s, final loss {steps.LastLoss:0.0000}, output {output}"));
        return result;
    }

    RunData LoadData()
    {
        var tokenizer = HfTokenizer.Load(config.BaseModel!);
        var chat = ChatTemplate.Resolve(config.ChatTemplate, config.BaseModel!, config.Dataset!);
        var tokens = SpecialTokenChoice.Resolve(tokenizer, config);
        var encoder = new ExampleEncoder(tokenizer, chat, config.SequenceLen) { TrainOnInputs = config.TrainOnInputs, EosTokenId = tokens.Eos };
        var train = TrainingSet.Prepare(config, encoder, DatasetSource, TokenizationCache.Default(), config.ValSetSize > 0 ? HeldOutCount : null,
            line => Result(WorkerPhases.Data, line), line => Status(WorkerPhases.Data, line));
        try
        {
            if (train.Cached) Result(WorkerPhases.Data, "train data: tokens from the tokenisation cache (same data, tokenizer and settings as an earlier run)");
            Report("train", train.Report);
            if (train.Report.TrainableTokens == 0)
                throw new LoraBuildException(ErrorCodes.NothingToLearn,
                    $"No example has a token to learn within sequence_len={config.SequenceLen}: every completion lies beyond it (longest example " +
                    $"{train.Report.LongestTokens} tokens). Raise sequence_len or shorten the prompts.", config.Dataset, 1);
            IReadOnlyList<RawExample>? evalRaw = null;
            IReadOnlyList<TokenizedExample>? evalEncoded = null;
            if (config.EvalDataset is { } || train.HeldOut is not null)
            {
                evalRaw = train.HeldOut ?? DatasetLoader.StreamRun(config.EvalSpecs, DatasetSource).ToList();
                (evalEncoded, var evalReport) = encoder.EncodeAll(evalRaw);
                Report("eval", evalReport);
            }
            return new RunData(tokenizer, chat, train.Examples, evalRaw, evalEncoded, StopTokens.Resolve(tokenizer, config.BaseModel!),
                tokens.Pad ?? tokens.Eos ?? 0) { Storage = train };
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>Where dataset entries' files come from: local paths only, unless the worker gives the Hub dataset source.</summary>
    public IDatasetSource DatasetSource { get; init; } = new LocalDatasetSource();

    /// <summary>
    /// What a run writes at most at once: save_total_limit checkpoints plus one being written (trainable tensors and
    /// AdamW's two moments, float32) and the final output, with a 10% margin.
    /// </summary>
    long RunBytesNeeded(IReadOnlyList<Parameter> trainable)
    {
        var trainableBytes = trainable.Sum(p => p.numel() * 4L);
        // load_best_model_at_end may add the best step's copy (best_model.safetensors).
        var checkpoint = (config.LoadBestModelAtEnd || config.BestModelImplied ? 4 : 3) * trainableBytes;
        var kept = config.SaveSteps > 0 ? (Math.Max(0, config.SaveTotalLimit) + 1) * checkpoint : 0;
        return (long)((kept + trainableBytes) * 1.1);
    }

    /// <summary>
    /// val_set_size (Axolotl, datasets' train_test_split): a seeded random share (below 1) or count of the training rows
    /// becomes the evaluation set (TrainingSet picks them); the rest keep their order.
    /// </summary>
    int HeldOutCount(int rows)
    {
        var count = config.ValSetSize < 1 ? (int)Math.Round(rows * config.ValSetSize) : (int)config.ValSetSize;
        if (count < 1 || count >= rows)
            throw new LoraBuildException(ErrorCodes.ConfigValueInvalid,
                $"val_set_size {config.ValSetSize.ToString(CultureInfo.InvariantCulture)} holds out {count} of {rows} examples; at least one must be held out and one left to train on.", config.Dataset);
        return count;
    }

    /// <summary>Quantises the base and adds the adapter (or, for full fine-tuning, unfreezes every weight); returns what trains.</summary>
    List<Parameter> PrepareModel(CausalLM model, LoraConfig loraConfig)
    {
        model.Model.GradientCheckpointing = config.GradientCheckpointing;
        if (!Full)
        {
            if (BaseQuantization.For(config.Quantization, config.DoubleQuant) is { } scheme) LoraModel.QuantizeBase(model, scheme);
            manual_seed(config.Seed);
            LoraModel.AddAdapter(model, AdapterName, loraConfig);
            LoraModel.SetActiveAdapters(model, AdapterName);
            var saved = ModulesToSave.Resolve(model, loraConfig);
            if (saved.Count > 0 && model.Config.TieWordEmbeddings)
                Result(WorkerPhases.Note, $"modules_to_save: this model ties embed_tokens and lm_head (tie_word_embeddings); as in PEFT without ensure_weight_tying, " +
                    $"{string.Join(" and ", saved)} {(saved.Count == 1 ? "is" : "are")} trained as {(saved.Count == 1 ? "its own copy" : "separate copies")}" +
                    (saved.Count == 1 ? $", while {(saved[0] == ModulesToSave.OutputHead ? "the embeddings keep" : "the output head keeps")} the base weight" : "") +
                    ". Such an adapter cannot be merged into this model (its config ties the two).");
        }
        var trainable = Full
            ? model.parameters().Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>().ToList()
            : LoraModel.AdapterParameters(model, AdapterName).Select(p => p.Parameter).ToList();
        foreach (var p in trainable) p.requires_grad = true;
        return trainable;
    }

    /// <summary>The optimisation loop: resumes from a matching checkpoint, logs, checkpoints and evaluates on schedule.</summary>
    StepsOutcome TrainSteps(CausalLM model, RunData data, List<Parameter> trainable, AdamW optimizer, CheckpointStore checkpoints,
        string fingerprint, bool resume, CancellationToken cancellation)
    {
        var plan = new BatchPlan(data.Train.Count, config.MicroBatchSize, config.GradientAccumulationSteps, config.Seed);
        long totalSteps = config.MaxSteps > 0 ? config.MaxSteps : (long)Math.Ceiling(config.NumEpochs * plan.StepsPerEpoch);
        var cadence = StepCadence.Resolve(config, totalSteps);
        if (cadence.Note is { } cadenceNote) Result(WorkerPhases.Note, cadenceNote);
        // fp16 mixed precision: the float32 adapter gradients arrive scaled and are unscaled before clipping and the update.
        var scaler = model.DType == ScalarType.Float16 && config.LossScaling ? new LossScaler() : null;
        using var best = BestModelTracking(cadence, data);
        var curve = new List<LossPoint>();
        var evalCurve = new List<EvalPoint>();
        long startStep = 0;
        if (resume && checkpoints.Newest(fingerprint) is { } checkpoint)
        {
            startStep = checkpoints.Restore(checkpoint, trainable, optimizer, curve, evalCurve, scaler, best);
            Result(WorkerPhases.Training, $"resumed from {checkpoint} at step {startStep}/{totalSteps}" +
                (scaler is null ? "" : string.Create(CultureInfo.InvariantCulture, $" (loss scale {scaler.Scale}, {scaler.SkippedSteps} steps skipped so far)")));
        }
        else if (resume)
        {
            Result(WorkerPhases.Training, "resume: no checkpoint with a matching fingerprint; starting from step 0");
        }
        // Replayed from the checkpoint's eval curve: a resumed run keeps the patience counter and the best evaluation it had.
        var earlyStopping = config.EarlyStoppingPatience > 0 ? EarlyStopping.Replay(config.EarlyStoppingPatience, evalCurve) : null;
        best?.Replay(evalCurve);
        long? stoppedEarlyAt = null;

        model.train();
        var window = Stopwatch.StartNew();
        long windowTokens = 0, totalTokens = 0;
        var trainingTime = Stopwatch.StartNew();
        double lastLoss = double.NaN;
        for (var step = startStep; step < totalSteps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            // As HF Trainer, the schedule advances only on steps the optimizer took (fp16 skips the ones that overflowed).
            var learningRate = LearningRateSchedule.At(config.LrScheduler, step - (scaler?.SkippedSteps ?? 0), totalSteps, cadence.WarmupSteps, config.LearningRate);
            // Dropout draws from a generator seeded by (seed, step): a resumed run draws what an uninterrupted one would.
            manual_seed(unchecked(config.Seed * 1_000_003L + step));
            var batches = plan.MicroBatches(step).Select(indices => BatchPlan.Collate(indices.Select(i => data.Train[i]).ToList(), data.PadId, model.Device)).ToList();
            var (loss, tokens) = AccumulateGradients(model, batches, scaler?.Scale ?? 1f);
            GradientsReady?.Invoke(step + 1, trainable);
            loss = InjectedFault.LossAtStep(step + 1, loss);
            windowTokens += tokens;
            totalTokens += tokens;
            if (!double.IsFinite(loss))
            {
                var last = checkpoints.Newest(fingerprint);
                throw new LoraBuildException(ErrorCodes.TrainingDiverged,
                    $"Loss became {loss} at step {step + 1}; training stopped. " + (last is null ? "No checkpoint was written yet." : $"The last good checkpoint is kept at {last}.") +
                    " Lower learning_rate or check the data.", config.Dataset);
            }
            var overflow = scaler is not null && !optimizer.UnscaleGradients(scaler.InverseScale);
            if (!overflow)
            {
                if (config.MaxGradNorm > 0) optimizer.ClipGradients(config.MaxGradNorm);
                optimizer.Update(learningRate);
            }
            if (scaler is not null)
            {
                var scaleUsed = scaler.Scale;
                scaler.Update(overflow);
                if (overflow)
                    Result(WorkerPhases.Training, string.Create(CultureInfo.InvariantCulture,
                        $"step {step + 1}: fp16 gradients overflowed at loss scale {scaleUsed}; the step is skipped and the loss scale is now {scaler.Scale}"));
            }
            optimizer.ZeroGrad();
            if (config.GradientCheckpointing) CheckpointedLayer.ReleaseFinishedNodes();
            lastLoss = loss;

            var done = step + 1;
            var tokensPerSecond = windowTokens / Math.Max(1e-9, window.Elapsed.TotalSeconds);
            curve.Add(new LossPoint(done, loss, learningRate, tokensPerSecond));
            if (done % config.LoggingSteps == 0 || done == totalSteps || done == startStep + 1)
            {
                var elapsed = trainingTime.Elapsed.TotalSeconds;
                var eta = TimeSpan.FromSeconds(elapsed / (done - startStep) * (totalSteps - done));
                events(new WorkerEvent
                {
                    Phase = WorkerPhases.Training, Kind = WorkerEventKinds.Status,
                    Message = string.Create(CultureInfo.InvariantCulture,
                        $"step {done}/{totalSteps} loss {loss:0.0000} lr {learningRate:0.00e+00} tokens/s {tokensPerSecond:0} epoch {plan.EpochAt(done):0.00} eta {eta:hh\\:mm\\:ss}"),
                    Current = done, Total = totalSteps, Unit = "steps", EtaSeconds = eta.TotalSeconds,
                    Values = new Dictionary<string, double> { ["loss"] = loss, ["learning_rate"] = learningRate, ["tokens_per_second"] = tokensPerSecond, ["epoch"] = plan.EpochAt(done) },
                });
                window.Restart();
                windowTokens = 0;
            }
            // Evaluate before checkpointing, so a checkpoint at the same step records this eval point too. The last step is
            // left to the final evaluation, except where load_best_model_at_end needs its loss (HF evaluates it when it is an eval step).
            if (cadence.EvalSteps > 0 && done % cadence.EvalSteps == 0 && (done < totalSteps || best is not null) && data.EvalEncoded is not null)
            {
                var quick = Evaluator.Evaluate(model, data.EvalEncoded, [], data.Tokenizer, data.StopIds, config.MicroBatchSize, config.EvalMaxNewTokens);
                Result(WorkerPhases.Evaluation, string.Create(CultureInfo.InvariantCulture, $"eval at step {done}: loss {quick.EvalLoss:0.0000} token accuracy {quick.TokenAccuracy:0.000}"));
                evalCurve.Add(new EvalPoint(done, quick.EvalLoss));
                if (earlyStopping?.Observe(quick.EvalLoss) == true && done < totalSteps) stoppedEarlyAt = done;
                best?.Observe(done, quick.EvalLoss);
            }
            // HF saves on every save step and at the last step; a save that lands on the best evaluation keeps its weights.
            if (best is not null && (done % cadence.SaveSteps == 0 || done == totalSteps)) best.AtSave(done, trainable);
            if (cadence.SaveSteps > 0 && done % cadence.SaveSteps == 0 && done < totalSteps && stoppedEarlyAt is null)
            {
                var path = checkpoints.Save(done, fingerprint, trainable, optimizer, curve, evalCurve, scaler, best);
                Result(WorkerPhases.Training, $"checkpoint: {path}");
            }
            if (stoppedEarlyAt is not null)
            {
                Result(WorkerPhases.Training, string.Create(CultureInfo.InvariantCulture,
                    $"early stopping at step {done} of {totalSteps}: eval loss has not gone below {earlyStopping!.Best:0.0000} for {earlyStopping.Counter} evaluations in a row (early_stopping_patience {earlyStopping.Patience})"));
                return Finish(done, done);
            }
        }
        return Finish(totalSteps, null);

        StepsOutcome Finish(long stepsTaken, long? stoppedAt)
        {
            var bestStep = PutBestBack(best, trainable, evalCurve, stepsTaken);
            return new StepsOutcome(stepsTaken, curve, lastLoss, totalTokens, trainingTime.Elapsed.TotalSeconds, evalCurve, stoppedAt, bestStep, scaler);
        }
    }

    /// <summary>
    /// load_best_model_at_end, given or (as Axolotl does) implied by early_stopping_patience with a checkpoint cadence: on
    /// when the save steps are a multiple of the eval steps (transformers' requirement; given explicitly and not met, LB0121).
    /// </summary>
    BestModel? BestModelTracking(StepCadence cadence, RunData data)
    {
        var savesOnEvaluations = cadence.EvalSteps > 0 && cadence.SaveSteps > 0 && cadence.SaveSteps % cadence.EvalSteps == 0;
        if (config.LoadBestModelAtEnd && !savesOnEvaluations) throw TrainingConfig.BestModelCadence(cadence.SaveSteps, cadence.EvalSteps, "training configuration");
        if (!(config.LoadBestModelAtEnd || config.BestModelImplied && savesOnEvaluations) || data.EvalEncoded is null) return null;
        Result(WorkerPhases.Note, $"load_best_model_at_end{(config.LoadBestModelAtEnd ? "" : " (set by early_stopping_patience, as Axolotl does)")}: " +
            $"the adapter written is the one saved at the best evaluation (lowest eval loss; evaluations every {cadence.EvalSteps} steps, saves every {cadence.SaveSteps})");
        return new BestModel();
    }

    /// <summary>Puts the best evaluation's weights back when they are not the last step's; returns the step whose weights the model now holds (null: load_best_model_at_end is off or kept nothing).</summary>
    long? PutBestBack(BestModel? best, IReadOnlyList<Parameter> trainable, IReadOnlyList<EvalPoint> evalCurve, long lastStep)
    {
        if (best is null) return null;
        if (best.Step is not { } kept)
        {
            Result(WorkerPhases.Training, "load_best_model_at_end: no save fell on a best evaluation; the adapter written is the last step's (as transformers keeps it)");
            return null;
        }
        var keptLoss = evalCurve.Last(p => p.Step == kept).Loss;
        if (kept == lastStep)
        {
            Result(WorkerPhases.Training, string.Create(CultureInfo.InvariantCulture, $"load_best_model_at_end: the last step ({kept}) is the best evaluation (eval loss {keptLoss:0.0000}); its adapter is written"));
            return kept;
        }
        best.Restore(trainable);
        Result(WorkerPhases.Training, string.Create(CultureInfo.InvariantCulture,
            $"load_best_model_at_end: the adapter written is step {kept}'s (eval loss {keptLoss:0.0000}, the best evaluation), not step {lastStep}'s"));
        return kept;
    }

    /// <summary>
    /// Forward and backward over one step's micro-batches, each contributing its share of the step's mean token loss,
    /// so the accumulated gradient is the mean's. Returns that mean (unscaled) and the step's tokens; disposes the batches.
    /// With fp16 each share is multiplied by <paramref name="lossScale"/> before backward (GradScaler.scale).
    /// </summary>
    static (double Loss, long Tokens) AccumulateGradients(CausalLM model, IReadOnlyList<Batch> batches, float lossScale)
    {
        var predicted = Math.Max(1, batches.Sum(b => b.PredictedTokens));
        double loss = 0;
        long tokens = 0;
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            var share = model.TrainingLoss(batch.InputIds, batch.Labels, predicted);
            (lossScale == 1f ? share : share.Times(lossScale)).backward();
            loss += share.item<float>();
            tokens += batch.Tokens;
            batch.Dispose();
        }
        return (loss, tokens);
    }

    string? MixedPrecision(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => config.LossScaling ? "fp16" : "float16",
        ScalarType.BFloat16 => "bf16",
        _ => null,
    };

    /// <summary>The trained model on the eval set, and (for adapters) the base model on it, for the gates' comparisons.</summary>
    (EvalMetrics? Eval, EvalMetrics? BaseEval) FinalEvaluation(CausalLM model, RunData data)
    {
        if (data.EvalEncoded is null) return (null, null);
        var cases = Evaluator.Cases(data.EvalRaw!, data.EvalEncoded, data.Tokenizer, config.SequenceLen);
        var what = $"{data.EvalEncoded.Count} examples (loss, token accuracy), {cases.Count} generations of up to {config.EvalMaxNewTokens} tokens (exact match)";
        Status(WorkerPhases.Evaluation, $"evaluating the {(Full ? "model" : "adapter")}: {what}");
        var eval = Evaluator.Evaluate(model, data.EvalEncoded, cases, data.Tokenizer, data.StopIds, config.MicroBatchSize, config.EvalMaxNewTokens,
            m => Status(WorkerPhases.Evaluation, m));
        LogEval("eval", eval);
        if (Full) return (eval, null);
        LoraModel.SetActiveAdapters(model);
        Status(WorkerPhases.Evaluation, $"evaluating the base model: {what}");
        var baseEval = Evaluator.Evaluate(model, data.EvalEncoded, cases, data.Tokenizer, data.StopIds, config.MicroBatchSize, config.EvalMaxNewTokens,
            m => Status(WorkerPhases.Evaluation, m));
        LoraModel.SetActiveAdapters(model, AdapterName);
        LogEval("base model eval", baseEval);
        return (eval, baseEval);
    }

    /// <summary>
    /// Logits of the trained model (eval mode) on the first training example, so anyone can check that the saved adapter
    /// reloads to the model training ended with (<c>lorabuild logits --input-ids probe_logits.safetensors</c>).
    /// </summary>
    static void WriteProbe(CausalLM model, TokenizedExample example, string path)
    {
        using var scope = NewDisposeScope();
        model.eval();
        using var _ = no_grad();
        var ids = tensor(example.InputIds.Select(i => (long)i).ToArray(), [1, example.Length]);
        var logits = model.Forward(ids.to(model.Device)).to_type(ScalarType.Float32).cpu();
        SafeTensorsWriter.Write(path, [KeyValuePair.Create("input_ids", ids), KeyValuePair.Create("logits", logits)]);
        model.train();
    }

    void Report(string name, EncodingReport report)
    {
        Result(WorkerPhases.Data, $"{name} data: {report.Examples} examples, {report.Tokens} tokens ({report.TrainableTokens} learned)");
        if (report.Truncated > 0)
            // Canonical "file: warning CODE: text", so a build log shows it as a coded warning on the dataset.
            Result(WorkerPhases.Data, $"{(name == "train" ? config.Dataset : config.EvalDataset)}: warning LB0140: {report.Truncated} of {report.Examples} {name} examples are longer than " +
                $"sequence_len={config.SequenceLen} (longest {report.LongestTokens} tokens) and were truncated");
    }

    void LogEval(string name, EvalMetrics m) =>
        Result(WorkerPhases.Evaluation, string.Create(CultureInfo.InvariantCulture,
                $"{name}: loss {m.EvalLoss:0.0000} perplexity {m.Perplexity:0.00} token accuracy {m.TokenAccuracy:0.000}") +
            (m.ExactMatch is { } em ? string.Create(CultureInfo.InvariantCulture, $" exact match {em:0.000} ({m.ExactMatchExamples} examples)") : ""));

    static string MetricsJson(TrainingResult r, IReadOnlyList<EvalPoint> evalCurve)
    {
        var metrics = new Dictionary<string, object?>
        {
            ["fingerprint"] = r.Fingerprint,
            ["steps"] = r.Steps,
            ["stopped_early_at_step"] = r.StoppedEarlyAtStep,
            ["best_step"] = r.BestStep,
            ["best_eval_loss"] = r.BestEvalLoss,
            ["mixed_precision"] = r.MixedPrecision,
            ["loss_scale"] = r.LossScale,
            ["skipped_steps"] = r.SkippedSteps,
            ["final_train_loss"] = r.FinalLoss,
            ["trainable_parameters"] = r.TrainableParameters,
            ["total_parameters"] = r.TotalParameters,
            ["trainable_percent"] = 100.0 * r.TrainableParameters / r.TotalParameters,
            ["tokens_per_second"] = r.TokensPerSecond,
            ["peak_memory_bytes"] = r.PeakMemoryBytes,
            ["seconds"] = r.Seconds,
            ["eval"] = r.Eval?.ToJson(),
            ["base_eval"] = r.BaseEval?.ToJson(),
            ["loss_curve"] = r.Curve.Select(p => new { step = p.Step, loss = p.Loss, lr = p.LearningRate, tokens_per_second = p.TokensPerSecond }),
            ["eval_curve"] = evalCurve.Select(p => new { step = p.Step, eval_loss = p.Loss }),
        };
        return JsonSerializer.Serialize(metrics, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
    }
}
