using LoraBuild.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

public class AdamWTests
{
    public AdamWTests() => TestPaths.EnsureTorch();

    /// <summary>Our AdamW against libtorch's own torch.optim.AdamW on the same gradients.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Matches_torch_optim_AdamW(bool paged)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var initial = randn(5, 7);
        var ours = new Parameter(initial.clone());
        var theirs = new Parameter(initial.clone());
        using var adam = new LoraBuild.Training.AdamW([ours], 0.9, 0.99, 1e-8, weightDecay: 0.1, paged: paged);
        var reference = optim.AdamW([theirs], lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1);
        for (var step = 0; step < 5; step++)
        {
            var grad = randn(5, 7);
            ours.grad = grad.clone();
            theirs.grad = grad.clone();
            adam.Update(1e-2);
            reference.step();
        }
        Assert.True((ours - theirs).abs().max().item<float>() < 1e-6);
        Assert.Equal(5, adam.Step);
    }
}
