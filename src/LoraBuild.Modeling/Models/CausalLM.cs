using LoraBuild.Native;
using LoraBuild.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Models;

/// <summary>
/// An HF <c>*ForCausalLM</c>: <c>model</c> (the decoder) and <c>lm_head</c>. Parameter names equal the checkpoint keys
/// (<c>model.layers.0.self_attn.q_proj.weight</c> ...), so loading is a one-to-one mapping.
/// </summary>
public sealed class CausalLM : nn.Module
{
    readonly DecoderModel model;
    readonly LoraLinear lm_head;

    public CausalLM(ModelConfig config, ScalarType dtype, Device device) : base(nameof(CausalLM))
    {
        Config = config;
        DType = dtype;
        Device = device;
        model = new DecoderModel(config, dtype, device);
        lm_head = config.TieWordEmbeddings
            ? new LoraLinear(model.EmbedTokensWeight, null)
            : new LoraLinear(config.HiddenSize, config.VocabSize, false, dtype, device);
        RegisterComponents();
    }

    public ModelConfig Config { get; }
    public ScalarType DType { get; }
    public Device Device { get; }
    public DecoderModel Model => model;
    public LoraLinear LmHead => lm_head;

    public const string OutputHeadName = "lm_head";

    /// <summary>Every linear layer by its HF module name (e.g. <c>model.layers.0.mlp.down_proj</c>), output head included.</summary>
    public IReadOnlyList<(string Name, LoraLinear Layer)> LinearLayers() =>
        named_modules().Where(m => m.module is LoraLinear).Select(m => (m.name, (LoraLinear)m.module)).ToList();

    /// <summary>Checkpoint keys this model expects, with the parameter each fills (a tied head expects no key of its own).</summary>
    public IReadOnlyList<(string Key, Parameter Parameter)> CheckpointParameters() =>
        named_parameters()
            .Where(p => !(Config.TieWordEmbeddings && p.name == OutputHeadName + ".weight"))
            .Select(p => (p.name, p.parameter))
            .ToList();

    /// <summary>Parameters of the base model, counting NF4-stored weights by their logical size.</summary>
    public long BaseParameterCount() =>
        CheckpointParameters().Sum(p => p.Parameter.numel()) +
        LinearLayers().Where(l => l.Layer.IsQuantized).Sum(l => l.Layer.Quantized!.ElementCount);

    /// <summary>Logits [batch, seq, vocab] in the model's dtype.</summary>
    public Tensor Forward(Tensor inputIds, KeyValueCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputIds, cache);
        return scope.MoveToOuter(SoftCap(lm_head.Forward(hidden)));
    }

    /// <summary>Gemma 2's final-logit soft-capping, cap * tanh(logits / cap), in the logits' dtype as HF does.</summary>
    Tensor SoftCap(Tensor logits) =>
        Config.FinalLogitSoftcapping is { } cap ? logits.DividedBy(cap).tanh().Times(cap) : logits;

    /// <summary>Logits [batch, vocab] of the last position only (generation: the head runs on one position).</summary>
    public Tensor ForwardLast(Tensor inputIds, KeyValueCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputIds, cache);
        var last = hidden.select(1, hidden.shape[1] - 1);
        return scope.MoveToOuter(SoftCap(lm_head.Forward(last)));
    }

    /// <summary>
    /// Logits [batch, vocab] of the last position of each row, every row continuing its own cache (serving); with
    /// <paramref name="logitRows"/>, of those rows only (the head is the costliest layer, and a prefill chunk needs the
    /// logits of its prompt's last token at most).
    /// </summary>
    public Tensor ForwardLastRows(Tensor inputIds, RowCaches rowCaches, Tensor? logitRows = null)
    {
        using var scope = NewDisposeScope();
        var hidden = model.ForwardRows(inputIds, rowCaches);
        var last = hidden.select(1, hidden.shape[1] - 1);
        if (logitRows is not null) last = last.index_select(0, logitRows);
        return scope.MoveToOuter(SoftCap(lm_head.Forward(last)));
    }

    /// <summary>
    /// Training's loss from input ids: the summed token cross-entropy divided by <paramref name="divisor"/> (the step's
    /// predicted-token count makes it HF's mean). The decoder runs, then the head and cross-entropy fused over row
    /// chunks (<see cref="LinearCrossEntropy"/>, which applies the final-logit soft-capping too), so no full float32
    /// logits tensor is made; an adapter's trainable copy of the head (modules_to_save) gets its gradient there. A head
    /// that carries an active LoRA adapter or a bias takes the plain path.
    /// </summary>
    public Tensor TrainingLoss(Tensor inputIds, Tensor labels, double divisor)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputIds);
        var loss = lm_head.ActiveAdapters.Count > 0 || lm_head.Bias is not null
            ? TokenLossSum(SoftCap(lm_head.Forward(hidden)), labels).DividedBy(divisor)
            : LinearCrossEntropy.Loss(hidden, lm_head.WeightInUse(hidden.dtype), labels, divisor, softcap: Config.FinalLogitSoftcapping);
        return scope.MoveToOuter(loss);
    }

    /// <summary>Sum of token cross-entropies (float32) over labels that are not -100, after HF's shift.</summary>
    public static Tensor TokenLossSum(Tensor logits, Tensor labels) => ShiftedCrossEntropy(logits, labels, nn.Reduction.Sum);

    /// <summary>
    /// HF's causal-LM loss: logits upcast to float32, labels shifted left by one (the last position has no target),
    /// -100 ignored, mean over the remaining tokens.
    /// </summary>
    public static Tensor CausalLmLoss(Tensor logits, Tensor labels) => ShiftedCrossEntropy(logits, labels, nn.Reduction.Mean);

    static Tensor ShiftedCrossEntropy(Tensor logits, Tensor labels, nn.Reduction reduction)
    {
        using var scope = NewDisposeScope();
        var vocab = logits.shape[^1];
        var length = logits.shape[1];
        var predictions = logits.narrow(1, 0, length - 1).to_type(ScalarType.Float32).reshape(-1, vocab);
        var targets = labels.narrow(1, 1, length - 1).reshape(-1);
        return scope.MoveToOuter(F.cross_entropy(predictions, targets, ignore_index: -100, reduction: reduction));
    }
}
