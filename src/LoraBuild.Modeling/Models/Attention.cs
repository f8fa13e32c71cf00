using TorchSharp;
using LoraBuild.Native;
using LoraBuild.Adapters;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LoraBuild.Models;

/// <summary>
/// Multi-head attention with grouped key/value heads, as HF LlamaAttention (and Mistral, Qwen2 with q/k/v bias, Phi-3
/// with one fused <c>qkv_proj</c>, Qwen3 and Gemma 3 with per-head <c>q_norm</c>/<c>k_norm</c> before RoPE, Gemma's
/// query_pre_attn_scalar scale). Uses scaled-dot-product attention; the causal mask (and a sliding window) is built
/// explicitly only when the fast path cannot express it. Gemma 2's score soft-capping needs the scores themselves, so
/// those layers run HF's eager attention.
/// </summary>
public sealed class Attention : nn.Module
{
    readonly LoraLinear? q_proj;
    readonly LoraLinear? k_proj;
    readonly LoraLinear? v_proj;
    readonly LoraLinear? qkv_proj;
    readonly LoraLinear o_proj;
    readonly RmsNorm? q_norm;
    readonly RmsNorm? k_norm;
    readonly int heads;
    readonly int kvHeads;
    readonly int headDim;
    readonly int? slidingWindow;
    readonly double scale;
    readonly double? softcap;

    public Attention(ModelConfig config, int layerIndex, ScalarType dtype, Device device) : base(nameof(Attention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        slidingWindow = config.LayerSlidingWindow(layerIndex);
        scale = config.AttentionScale;
        softcap = config.AttnLogitSoftcapping;
        long hidden = config.HiddenSize, q = heads * headDim, kv = kvHeads * headDim;
        if (config.FusedProjections)
        {
            qkv_proj = new LoraLinear(hidden, q + 2 * kv, false, dtype, device);
        }
        else
        {
            q_proj = new LoraLinear(hidden, q, config.AttentionBias, dtype, device);
            k_proj = new LoraLinear(hidden, kv, config.AttentionBias, dtype, device);
            v_proj = new LoraLinear(hidden, kv, config.AttentionBias, dtype, device);
        }
        o_proj = new LoraLinear(q, hidden, config.OutputProjectionBias, dtype, device);
        if (config.Family.QueryKeyNorm)
        {
            q_norm = new RmsNorm(headDim, config.RmsNormEps, dtype, device, config.Family.Norm);
            k_norm = new RmsNorm(headDim, config.RmsNormEps, dtype, device, config.Family.Norm);
        }
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor signedSin, KeyValueCache? cache, long past, int layerIndex, RowCaches? rowCaches = null)
    {
        using var scope = NewDisposeScope();
        var (batch, length) = (hidden.shape[0], hidden.shape[1]);
        Tensor q, k, v;
        if (qkv_proj is not null)
        {
            var qkv = qkv_proj.Forward(hidden);
            q = qkv.narrow(-1, 0, heads * headDim);
            k = qkv.narrow(-1, heads * headDim, kvHeads * headDim);
            v = qkv.narrow(-1, (heads + kvHeads) * headDim, kvHeads * headDim);
        }
        else
        {
            q = q_proj!.Forward(hidden);
            k = k_proj!.Forward(hidden);
            v = v_proj!.Forward(hidden);
        }
        q = q.view(batch, length, heads, headDim);
        k = k.view(batch, length, kvHeads, headDim);
        if (q_norm is not null) q = q_norm.Forward(q);
        if (k_norm is not null) k = k_norm!.Forward(k);
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        v = v.view(batch, length, kvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, signedSin);
        k = RotaryEmbedding.Apply(k, cos, signedSin);

        if (rowCaches is not null)
        {
            var attended = PerRowAttention(q, k, v, rowCaches, layerIndex).transpose(1, 2).reshape(batch, length, heads * headDim);
            return scope.MoveToOuter(o_proj.Forward(attended));
        }
        long firstKey = 0;
        if (cache is not null) (k, v, firstKey) = cache.Append(layerIndex, k, v, slidingWindow);
        k = RepeatKv(k);
        v = RepeatKv(v);

        var output = softcap is { } cap ? SoftCappedAttention(q, k, v, cap, past, firstKey) : FastAttention(q, k, v, past, firstKey);
        output = output.transpose(1, 2).reshape(batch, length, heads * headDim);
        return scope.MoveToOuter(o_proj.Forward(output));
    }

    /// <summary>Each row attends over its own cache (rows of a serving batch have different lengths), exactly as it
    /// would alone; the projections around it run batched.</summary>
    Tensor PerRowAttention(Tensor q, Tensor k, Tensor v, RowCaches rows, int layerIndex)
    {
        var outputs = new Tensor[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var (rowK, rowV, firstKey) = rows.Caches[i].Append(layerIndex, k.narrow(0, i, 1), v.narrow(0, i, 1), slidingWindow);
            var qi = q.narrow(0, i, 1);
            rowK = RepeatKv(rowK);
            rowV = RepeatKv(rowV);
            outputs[i] = softcap is { } cap ? SoftCappedAttention(qi, rowK, rowV, cap, rows.Past[i], firstKey) : FastAttention(qi, rowK, rowV, rows.Past[i], firstKey);
        }
        return outputs.Length == 1 ? outputs[0] : cat(outputs, 0);
    }

    /// <summary>Queries at positions past.., keys at positions firstKey..past+length-1 (earlier ones dropped from a cache).</summary>
    Tensor FastAttention(Tensor q, Tensor k, Tensor v, long past, long firstKey)
    {
        var (length, keyCount) = (q.shape[2], k.shape[2]);
        // TorchSharp's SDPA always scales by head_dim^-0.5: fold any other scale (Gemma's) into the queries.
        var defaultScale = 1.0 / Math.Sqrt(headDim);
        if (Math.Abs(scale - defaultScale) > 1e-12 * defaultScale) q = q.Times(scale / defaultScale);
        var windowCuts = slidingWindow is { } w && keyCount > w;
        if (length == 1 && !windowCuts) return F.scaled_dot_product_attention(q, k, v);
        if (past == 0 && firstKey == 0 && !windowCuts) return F.scaled_dot_product_attention(q, k, v, is_casual: true);
        return F.scaled_dot_product_attention(q, k, v, CausalMask(length, past, firstKey, keyCount, q.dtype, q.device));
    }

    /// <summary>HF's eager attention with Gemma 2's soft-capping: cap * tanh(q·kᵀ * scale / cap), mask, float32 softmax.</summary>
    Tensor SoftCappedAttention(Tensor q, Tensor k, Tensor v, double cap, long past, long firstKey)
    {
        var scores = q.matmul(k.transpose(2, 3)).Times(scale);
        scores = scores.DividedBy(cap).tanh().Times(cap);
        scores = scores.Plus(CausalMask(q.shape[2], past, firstKey, k.shape[2], scores.dtype, scores.device));
        var weights = scores.softmax(-1, ScalarType.Float32).to_type(q.dtype);
        return weights.matmul(v);
    }

    Tensor RepeatKv(Tensor x)
    {
        var groups = heads / kvHeads;
        if (groups == 1) return x;
        var (b, s, d) = (x.shape[0], x.shape[2], x.shape[3]);
        return x.unsqueeze(2).expand(b, kvHeads, groups, s, d).reshape(b, heads, s, d);
    }

    /// <summary>Additive mask [query, key]: 0 where query i (at position past+i) may see key j, -inf elsewhere.</summary>
    Tensor CausalMask(long length, long past, long firstKey, long keyCount, ScalarType dtype, Device device)
    {
        var queryPositions = OwnedScalars.Range(past, past + length, device).unsqueeze(1);
        var keyPositions = OwnedScalars.Range(firstKey, firstKey + keyCount, device).unsqueeze(0);
        var allowed = keyPositions <= queryPositions;
        if (slidingWindow is { } window) {
            using var windowSize = window.ToScalar();
            allowed = allowed.logical_and(queryPositions.sub(keyPositions).lt(windowSize));
        }
        return zeros(length, keyCount, dtype, device).masked_fill(allowed.logical_not(), OwnedScalars.NegativeInfinity);
    }
}
