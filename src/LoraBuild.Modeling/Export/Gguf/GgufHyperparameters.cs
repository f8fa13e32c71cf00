using LoraBuild.Diagnostics;
using LoraBuild.Export.Gguf.Families;
using LoraBuild.Models;

namespace LoraBuild.Export.Gguf;

/// <summary>The <c>&lt;arch&gt;.*</c> keys llama.cpp reads to build the graph (llama-arch.cpp's LLM_KV names), from config.json.</summary>
public static class GgufHyperparameters
{
    public static void Write(GgufMetadata metadata, GgufFamily family, ModelConfig config, string configPath)
    {
        var a = family.Architecture;
        metadata.UInt32($"{a}.context_length", config.MaxPositionEmbeddings)
            .UInt32($"{a}.embedding_length", config.HiddenSize)
            .UInt32($"{a}.block_count", config.NumHiddenLayers)
            .UInt32($"{a}.feed_forward_length", config.IntermediateSize)
            .UInt32($"{a}.attention.head_count", config.NumAttentionHeads)
            .UInt32($"{a}.attention.head_count_kv", config.NumKeyValueHeads)
            .UInt32($"{a}.attention.key_length", config.HeadDim)
            .UInt32($"{a}.attention.value_length", config.HeadDim)
            .Float32($"{a}.attention.layer_norm_rms_epsilon", config.RmsNormEps)
            .Float32($"{a}.rope.freq_base", config.Rope.Theta)
            .UInt32($"{a}.rope.dimension_count", config.RotaryDim)
            .UInt32($"{a}.vocab_size", config.VocabSize);
        switch (config.Rope.Type)
        {
            case "default":
                break;
            case "linear":
                metadata.String($"{a}.rope.scaling.type", "linear").Float32($"{a}.rope.scaling.factor", config.Rope.Factor);
                break;
            case "llama3" when family.ReadsRopeFrequencyFactors:
                break; // carried by the rope_freqs.weight tensor (RopeFrequencyFactors)
            default:
                throw new LoraBuildException(ErrorCodes.GgufRopeUnsupported,
                    $"rope type '{config.Rope.Type}' has no GGUF form for llama.cpp's '{a}' architecture.", configPath);
        }
        if (family.WritesSlidingWindow && config.SlidingWindow is { } window)
        {
            metadata.UInt32($"{a}.attention.sliding_window", window)
                .UInt32($"{a}.attention.sliding_window_pattern", SlidingWindowPeriod(config, configPath));
            if (config.LocalRope is { } local)
            {
                if (local.Type != "default")
                    throw new LoraBuildException(ErrorCodes.GgufRopeUnsupported, "llama.cpp's sliding layers take a base frequency only, not rope scaling.", configPath);
                metadata.Float32($"{a}.rope.freq_base_swa", local.Theta);
            }
        }
        if (config.AttnLogitSoftcapping is { } attnCap) metadata.Float32($"{a}.attn_logit_softcapping", attnCap);
        if (config.FinalLogitSoftcapping is { } finalCap) metadata.Float32($"{a}.final_logit_softcapping", finalCap);
    }

    /// <summary>
    /// llama.cpp marks layer i sliding when i % period &lt; period - 1 (llama_hparams::set_swa_pattern); the config's
    /// layer types must be exactly that pattern for some period.
    /// </summary>
    static int SlidingWindowPeriod(ModelConfig config, string configPath)
    {
        var layers = Enumerable.Range(0, config.NumHiddenLayers).Select(config.LayerType).ToArray();
        for (var period = 1; period <= Math.Max(1, layers.Length + 1); period++)
        {
            var p = period;
            if (layers.Select((kind, i) => kind == (i % p < p - 1 ? AttentionKind.Sliding : AttentionKind.Full)).All(x => x)) return period;
        }
        throw new LoraBuildException(ErrorCodes.GgufModelUnsupported,
            $"layer types [{string.Join(", ", layers)}] are not a repeating sliding/full pattern, which is all llama.cpp can express.", configPath);
    }

    /// <summary>
    /// Llama 3 rope scaling as llama.cpp's per-frequency divisors (rope_freqs.weight, n_rot/2 values): 1 for short
    /// wavelengths, <c>factor</c> for long ones, and the smooth blend between, the same curve transformers applies.
    /// </summary>
    public static float[] RopeFrequencyFactors(ModelConfig config)
    {
        var rope = config.Rope;
        var lowWavelength = rope.OriginalMaxPositionEmbeddings / rope.LowFreqFactor;
        var highWavelength = rope.OriginalMaxPositionEmbeddings / rope.HighFreqFactor;
        var dim = config.RotaryDim;
        var factors = new float[dim / 2];
        for (var i = 0; i < factors.Length; i++)
        {
            var frequency = 1.0 / Math.Pow(rope.Theta, 2.0 * i / dim);
            var wavelength = 2 * Math.PI / frequency;
            if (wavelength < highWavelength) factors[i] = 1f;
            else if (wavelength > lowWavelength) factors[i] = (float)rope.Factor;
            else
            {
                var smooth = (rope.OriginalMaxPositionEmbeddings / wavelength - rope.LowFreqFactor) / (rope.HighFreqFactor - rope.LowFreqFactor);
                factors[i] = (float)(1.0 / ((1 - smooth) / rope.Factor + smooth));
            }
        }
        return factors;
    }
}
