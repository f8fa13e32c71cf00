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
    /// would alone; the projections around it run batched. A decoding step (one new position per row) attends in one
    /// padded batch; a prefill chunk attends row by row.</summary>
    Tensor PerRowAttention(Tensor q, Tensor k, Tensor v, RowCaches rows, int layerIndex)
    {
        if (rows.Pool is not null) return PooledAttention(q, k, v, rows, layerIndex);
        if (q.shape[2] == 1 && rows.Count > 1) return PaddedDecodeAttention(q, k, v, rows, layerIndex);
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

    /// <summary>
    /// Rows of one position each in pool slots: every row's new key and value go in with one indexed write; decoding rows
    /// then attend with one gather of their slots up to the longest, padding masked out; each prefill chunk's rows attend
    /// causally over their own slot.
    /// </summary>
    Tensor PooledAttention(Tensor q, Tensor k, Tensor v, RowCaches rows, int layerIndex)
    {
        if (q.shape[2] != 1) throw new ArgumentException("Pool rows hold one position each.", nameof(q));
        var pool = rows.Pool!;
        // [rows, kv_heads, 1, head_dim] -> [rows, kv_heads, head_dim]: one position per row.
        pool.WritePositions(layerIndex, rows.PoolIndex!, k.squeeze(2), v.squeeze(2));
        var outputs = new List<Tensor>();
        if (rows.DecodeRows > 0)
        {
            var decodeRows = rows.DecodeRows;
            var longest = rows.Past.Take(decodeRows).Max() + 1;
            // A lone row reads its slot in place; several rows are gathered into one padded batch.
            var (keys, values) = decodeRows == 1 ? pool.Slot(layerIndex, rows.PoolSlots[0], longest) : pool.Gather(layerIndex, rows.DecodeSlotIndex!, longest);
            var mask = rows.DecodePaddingMask(longest, q.dtype);
            var qd = decodeRows == rows.Count ? q : q.narrow(0, 0, decodeRows);
            outputs.Add(softcap is { } cap
                ? SoftCappedScores(qd, RepeatKv(keys.transpose(1, 2)), RepeatKv(values.transpose(1, 2)), cap, mask)
                : GroupedDecodeAttention(ScaledForSdpa(qd), keys.transpose(1, 2), values.transpose(1, 2), mask));
        }
        foreach (var segment in rows.Prefills)
        {
            // The chunk's rows [count, heads, 1, head_dim] as one sequence [1, heads, count, head_dim].
            var qs = q.narrow(0, segment.Start, segment.Count).permute(2, 1, 0, 3);
            var (keys, values) = pool.Slot(layerIndex, segment.Slot, segment.Past + segment.Count);
            keys = RepeatKv(keys.transpose(1, 2));
            values = RepeatKv(values.transpose(1, 2));
            var attended = softcap is { } c ? SoftCappedAttention(qs, keys, values, c, segment.Past, 0) : FastAttention(qs, keys, values, segment.Past, 0);
            outputs.Add(attended.permute(2, 1, 0, 3));
        }
        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }

    /// <summary>
    /// One query position per row over unrepeated key/value heads: the query heads sharing a key/value head become that
    /// head's query positions ([rows, kv_heads, groups, head_dim]), so the keys and values are never copied per query
    /// head. <paramref name="mask"/> [rows, 1, 1, keys] applies to every group alike.
    /// </summary>
    Tensor GroupedDecodeAttention(Tensor q, Tensor keys, Tensor values, Tensor mask)
    {
        var rows = q.shape[0];
        var groups = heads / kvHeads;
        var grouped = q.reshape(rows, kvHeads, groups, headDim);
        return F.scaled_dot_product_attention(grouped, keys, values, mask).reshape(rows, heads, 1, headDim);
    }

    /// <summary>Additive mask [rows, 1, 1, longest]: 0 for a row's own positions, -inf for the padding after them.
    /// Always given, so a row computes the same way alone as in a batch.</summary>
    internal static Tensor PaddingMask(Tensor positions, long longest, ScalarType dtype, Device device)
    {
        var rows = positions.shape[0];
        var padding = OwnedScalars.Range(0, longest, device).unsqueeze(0).gt(positions.unsqueeze(1));
        return zeros(rows, longest, dtype, device).masked_fill(padding, OwnedScalars.NegativeInfinity).view(rows, 1, 1, longest);
    }

    Tensor SoftCappedScores(Tensor q, Tensor keys, Tensor values, double cap, Tensor? mask)
    {
        var scores = q.matmul(keys.transpose(2, 3)).Times(scale).DividedBy(cap).tanh().Times(cap);
        if (mask is not null) scores = scores.Plus(mask);
        return scores.softmax(-1, ScalarType.Float32).to_type(q.dtype).matmul(values);
    }

    /// <summary>TorchSharp's SDPA always scales by head_dim^-0.5: any other scale (Gemma's) is folded into the queries.</summary>
    Tensor ScaledForSdpa(Tensor q)
    {
        var defaultScale = 1.0 / Math.Sqrt(headDim);
        return Math.Abs(scale - defaultScale) > 1e-12 * defaultScale ? q.Times(scale / defaultScale) : q;
    }

    /// <summary>
    /// One query per row over keys padded to the longest row: [rows, heads, 1, longest] with the padding masked out, so
    /// every row sees exactly its own positions (a sliding layer's cache holds only what its window lets the query see).
    /// </summary>
    Tensor PaddedDecodeAttention(Tensor q, Tensor k, Tensor v, RowCaches rows, int layerIndex)
    {
        var rowKeys = new Tensor[rows.Count];
        var rowValues = new Tensor[rows.Count];
        var lengths = new long[rows.Count];
        // [rows, 1, kv_heads, head_dim]: row i's new position, sequence-major as the caches store it.
        var newKeys = k.transpose(1, 2);
        var newValues = v.transpose(1, 2);
        for (var i = 0; i < rows.Count; i++)
        {
            (rowKeys[i], rowValues[i], _) = rows.Caches[i].AppendSequence(layerIndex, newKeys.select(0, i), newValues.select(0, i), slidingWindow);
            lengths[i] = rowKeys[i].shape[0];
        }
        var longest = lengths.Max();
        var keys = RepeatKv(nn.utils.rnn.pad_sequence(rowKeys, batch_first: true).transpose(1, 2));
        var values = RepeatKv(nn.utils.rnn.pad_sequence(rowValues, batch_first: true).transpose(1, 2));
        Tensor? mask = null;
        if (lengths.Any(l => l != longest))
        {
            var padding = OwnedScalars.Range(0, longest, q.device).unsqueeze(0).ge(tensor(lengths, ScalarType.Int64, q.device).unsqueeze(1));
            mask = zeros(rows.Count, longest, q.dtype, q.device).masked_fill(padding, OwnedScalars.NegativeInfinity).view(rows.Count, 1, 1, longest);
        }
        if (softcap is { } cap) return SoftCappedScores(q, keys, values, cap, mask);
        return mask is null ? F.scaled_dot_product_attention(ScaledForSdpa(q), keys, values) : F.scaled_dot_product_attention(ScaledForSdpa(q), keys, values, mask);
    }

    /// <summary>Queries at positions past.., keys at positions firstKey..past+length-1 (earlier ones dropped from a cache).</summary>
    Tensor FastAttention(Tensor q, Tensor k, Tensor v, long past, long firstKey)
    {
        var (length, keyCount) = (q.shape[2], k.shape[2]);
        q = ScaledForSdpa(q);
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
