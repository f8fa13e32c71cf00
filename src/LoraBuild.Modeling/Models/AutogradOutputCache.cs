using System.Reflection;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>
/// TorchSharp 0.107's custom autograd functions keep an <c>empty_like</c> of every output in their node, only to make
/// zero gradients for outputs that receive none, and hold it until backward frees the graph. For a checkpointed layer
/// that is a second [batch, seq, hidden] tensor per layer; for a linear layer a second output. Our functions turn
/// gradient materialisation off (<see cref="Prepare"/>, inside forward) and drop that cache right after
/// <c>apply</c> returns (<see cref="Release"/>). The cache is a private field of TorchSharp's node: where a TorchSharp
/// version lacks it, nothing is released and only the memory saving is lost (a test pins the field).
/// </summary>
public static class AutogradOutputCache
{
    static readonly FieldInfo? NodeField = typeof(autograd.AutogradContext).GetField("_node", BindingFlags.Instance | BindingFlags.NonPublic);

    [ThreadStatic] static autograd.AutogradContext? pending;

    /// <summary>
    /// Called last in a function's forward (after any nested function ran): no zero-gradient materialisation, and
    /// remember the context for <see cref="Release"/>.
    /// </summary>
    public static void Prepare(autograd.AutogradContext ctx)
    {
        ctx.set_materialize_grads(false);
        pending = ctx;
    }

    /// <summary>Called after <c>apply</c> returned: disposes the node's output cache. Returns how many tensors it freed.</summary>
    public static int Release()
    {
        var ctx = pending;
        pending = null;
        if (ctx is null || ctx.MaterializeGrads || NodeField?.GetValue(ctx) is not { } node) return 0;
        if (node.GetType().GetField("_outputCache", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(node) is not List<Tensor> cache) return 0;
        var freed = 0;
        for (var i = 0; i < cache.Count; i++)
        {
            if (cache[i] is null) continue;
            cache[i].Dispose();
            cache[i] = null!;
            freed++;
        }
        return freed;
    }
}
