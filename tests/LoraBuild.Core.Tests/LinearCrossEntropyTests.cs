using LoraBuild.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Tests;

/// <summary>The chunked head + cross-entropy against the plain path: full logits, F.cross_entropy, autograd.</summary>
public class LinearCrossEntropyTests
{
    public LinearCrossEntropyTests() => TestPaths.EnsureTorch();

    const long Vocab = 50, Hidden = 16;

    static (Tensor Hidden, Tensor Weight, Tensor Labels) Inputs(ScalarType dtype, bool weightRequiresGrad)
    {
        var generator = new Generator(7);
        var hidden = randn([3, 7, Hidden], generator: generator).to_type(dtype).requires_grad_(true);
        var weight = (randn([Vocab, Hidden], generator: generator) * 0.3).to_type(dtype).requires_grad_(weightRequiresGrad);
        var labels = randint(0, Vocab, [3, 7], generator: generator, dtype: ScalarType.Int64);
        // Prompt tokens and padding are -100, including a whole sequence's tail.
        labels[0, 1] = tensor(-100L);
        labels[1, TensorIndex.Slice(3)] = tensor(-100L);
        return (hidden, weight, labels);
    }

    static Tensor PlainLossSum(Tensor hidden, Tensor weight, Tensor labels)
    {
        var logits = F.linear(hidden, weight);
        var length = labels.shape[1];
        var predictions = logits.narrow(1, 0, length - 1).to_type(ScalarType.Float32).reshape(-1, Vocab);
        return F.cross_entropy(predictions, labels.narrow(1, 1, length - 1).reshape(-1), ignore_index: -100, reduction: nn.Reduction.Sum);
    }

    static float MaxRelative(Tensor actual, Tensor expected) =>
        ((actual.to_type(ScalarType.Float32) - expected.to_type(ScalarType.Float32)).abs().max() /
         expected.to_type(ScalarType.Float32).abs().max().clamp_min(1e-12)).item<float>();

    [Theory]
    [InlineData(4 * Vocab * 4)]   // 4 rows a chunk: 21 rows in 6 chunks, the last one short
    [InlineData(4 * Vocab * 1)]   // one row a chunk
    [InlineData(1L << 30)]        // everything in one chunk
    public void Loss_and_gradients_equal_the_plain_path(long chunkBytes)
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, labels) = Inputs(ScalarType.Float32, weightRequiresGrad: true);
        const double divisor = 17, upstream = 0.37;

        var plain = PlainLossSum(hidden, weight, labels) / divisor;
        (plain * upstream).backward();
        var (plainHiddenGrad, plainWeightGrad) = (hidden.grad!.clone(), weight.grad!.clone());
        hidden.grad!.zero_();
        weight.grad!.zero_();

        var fused = LinearCrossEntropy.Loss(hidden, weight, labels, divisor, chunkBytes);
        (fused * upstream).backward();

        Assert.Equal(ScalarType.Float32, fused.dtype);
        Assert.Equal(0, fused.dim());
        Assert.True(Math.Abs(fused.item<float>() - plain.item<float>()) < 1e-5 * Math.Abs(plain.item<float>()), $"loss {fused.item<float>()} vs {plain.item<float>()}");
        Assert.True(MaxRelative(hidden.grad!, plainHiddenGrad) < 1e-5, "hidden gradient");
        Assert.True(MaxRelative(weight.grad!, plainWeightGrad) < 1e-5, "head weight gradient");
        // Ignored positions and each sequence's last position get no gradient.
        Assert.Equal(0, hidden.grad![0, 0].abs().sum().item<float>());
        Assert.Equal(0, hidden.grad![1, TensorIndex.Slice(2)].abs().sum().item<float>());
        Assert.Equal(0, hidden.grad![2, 6].abs().sum().item<float>());
        Assert.True(hidden.grad![2, 5].abs().sum().item<float>() > 0);
    }

    [Fact]
    public void A_frozen_head_gets_no_gradient()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, labels) = Inputs(ScalarType.Float32, weightRequiresGrad: false);
        PlainLossSum(hidden, weight, labels).backward();
        var expected = hidden.grad!.clone();
        hidden.grad!.zero_();
        LinearCrossEntropy.Loss(hidden, weight, labels, chunkBytes: 4 * Vocab * 4).backward();
        Assert.Null(weight.grad);
        Assert.True(MaxRelative(hidden.grad!, expected) < 1e-5);
    }

    [Fact]
    public void Bfloat16_matches_the_plain_path_within_bfloat16_rounding()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, labels) = Inputs(ScalarType.BFloat16, weightRequiresGrad: false);
        // Training divides the summed loss by the token count. This one rounds up in bf16 from every product with a bf16
        // value (just over a power of two): scaling an already-rounded bf16 gradient would bias it by +0.2%.
        const double divisor = 16 / (1 + 1.0 / 256);
        var plain = PlainLossSum(hidden, weight, labels) / divisor;
        plain.backward();
        var expected = hidden.grad!.clone();
        hidden.grad!.zero_();
        var fused = LinearCrossEntropy.Loss(hidden, weight, labels, divisor, 4 * Vocab * 4);
        fused.backward();
        Assert.Equal(ScalarType.BFloat16, hidden.grad!.dtype);
        Assert.True(Math.Abs(fused.item<float>() - plain.item<float>()) < 1e-4 * Math.Abs(plain.item<float>()));
        Assert.True(MaxRelative(hidden.grad!, expected) < 2e-2);

        // No systematic scale error: against the float32 gradient of the same values, the least-squares ratio is 1
        // (the plain bf16 path's is 0.9994 here).
        var exactHidden = hidden.detach().to_type(ScalarType.Float32).requires_grad_(true);
        (PlainLossSum(exactHidden, weight.to_type(ScalarType.Float32), labels) / divisor).backward();
        var exact = exactHidden.grad!;
        var ratio = ((hidden.grad!.to_type(ScalarType.Float32) * exact).sum() / (exact * exact).sum()).item<float>();
        Assert.InRange(ratio, 1 - 1e-3, 1 + 1e-3);
    }

    [Fact]
    public void Without_gradients_only_the_loss_is_computed()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, labels) = Inputs(ScalarType.Float32, weightRequiresGrad: false);
        using var _ = no_grad();
        var fused = LinearCrossEntropy.Loss(hidden, weight, labels);
        Assert.False(fused.requires_grad);
        Assert.True(Math.Abs(fused.item<float>() - PlainLossSum(hidden, weight, labels).item<float>()) < 1e-4);
    }

    /// <summary>Training's loss on a real checkpoint equals the plain logits path, for the tied-embedding family too.</summary>
    [Theory]
    [InlineData("llama")]
    [InlineData("llama3-rope-tied")]
    [InlineData("gemma2")]
    public void Training_loss_equals_the_logits_loss(string family)
    {
        using var scope = NewDisposeScope();
        using var golden = SafeTensors.SafeTensorsFile.Open(TestPaths.Hf(family, "golden.safetensors"));
        using var model = ModelLoader.Load(TestPaths.Hf(family));
        using var _ = no_grad();
        var ids = golden.Read("input_ids");
        var plain = CausalLM.TokenLossSum(model.Forward(ids), ids).item<float>();
        var fused = model.TrainingLoss(ids, ids, divisor: 1).item<float>();
        Assert.True(Math.Abs(plain - fused) < 1e-5 * plain, $"{family}: {fused} vs {plain}");
        var mean = fused / (ids.shape[0] * (ids.shape[1] - 1));
        var expected = golden.Read("loss").item<float>();
        Assert.True(Math.Abs(mean - expected) < Math.Max(1e-5, 2e-6 * expected), $"{family}: mean {mean} vs HF's loss {expected}");
    }
}
