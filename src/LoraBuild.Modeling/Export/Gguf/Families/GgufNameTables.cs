namespace LoraBuild.Export.Gguf.Families;

/// <summary>
/// llama.cpp's tensor names (gguf-py's TENSOR_NAMES / convert_hf_to_gguf.py's mapping), one table per family. HF module
/// names are relative to <c>model.layers.N.</c>; the GGUF name is <c>blk.N.&lt;name&gt;.weight|bias</c>.
/// </summary>
public static class GgufNameTables
{
    public static readonly IReadOnlyDictionary<string, string> Globals = new Dictionary<string, string>
    {
        ["model.embed_tokens"] = "token_embd",
        ["model.norm"] = "output_norm",
        ["lm_head"] = "output",
    };

    static readonly Dictionary<string, string> Attention = new()
    {
        ["input_layernorm"] = "attn_norm",
        ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output",
    };

    static readonly Dictionary<string, string> GatedMlp = new()
    {
        ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
    };

    static readonly Dictionary<string, string> QueryKeyNorms = new()
    {
        ["self_attn.q_norm"] = "attn_q_norm",
        ["self_attn.k_norm"] = "attn_k_norm",
    };

    /// <summary>LLaMA-style pre-norm block: post_attention_layernorm is the norm before the MLP.</summary>
    static readonly Dictionary<string, string> PreNormBlock = new() { ["post_attention_layernorm"] = "ffn_norm" };

    /// <summary>Gemma's four norms: post_attention_layernorm really follows attention; pre_feedforward_layernorm precedes the MLP.</summary>
    static readonly Dictionary<string, string> SandwichNorms = new()
    {
        ["post_attention_layernorm"] = "post_attention_norm",
        ["pre_feedforward_layernorm"] = "ffn_norm",
        ["post_feedforward_layernorm"] = "post_ffw_norm",
    };

    static IReadOnlyDictionary<string, string> Table(params Dictionary<string, string>[] parts) =>
        parts.SelectMany(p => p).ToDictionary(p => p.Key, p => p.Value);

    public static readonly IReadOnlyDictionary<string, string> Llama = Table(Attention, GatedMlp, PreNormBlock);
    public static readonly IReadOnlyDictionary<string, string> Mistral = Llama;
    public static readonly IReadOnlyDictionary<string, string> Qwen2 = Llama;
    public static readonly IReadOnlyDictionary<string, string> Qwen3 = Table(Attention, GatedMlp, PreNormBlock, QueryKeyNorms);

    /// <summary>Phi-3: fused qkv_proj and gate_up_proj (gate rows first), which llama.cpp's phi3 reads as attn_qkv and a double-width ffn_up.</summary>
    public static readonly IReadOnlyDictionary<string, string> Phi3 = Table(PreNormBlock, new()
    {
        ["input_layernorm"] = "attn_norm",
        ["self_attn.qkv_proj"] = "attn_qkv",
        ["self_attn.o_proj"] = "attn_output",
        ["mlp.gate_up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
    });

    public static readonly IReadOnlyDictionary<string, string> Gemma2 = Table(Attention, GatedMlp, SandwichNorms);
    public static readonly IReadOnlyDictionary<string, string> Gemma3 = Table(Attention, GatedMlp, SandwichNorms, QueryKeyNorms);

    public static readonly GgufFamily LlamaFamily = new() { Architecture = "llama", LayerNames = Llama, PermuteQueryKey = true, ReadsRopeFrequencyFactors = true };
    /// <summary>llama.cpp converts Mistral checkpoints as the llama architecture.</summary>
    public static readonly GgufFamily MistralFamily = LlamaFamily with { LayerNames = Mistral };
    public static readonly GgufFamily Qwen2Family = new() { Architecture = "qwen2", LayerNames = Qwen2 };
    public static readonly GgufFamily Qwen3Family = new() { Architecture = "qwen3", LayerNames = Qwen3 };
    public static readonly GgufFamily Phi3Family = new() { Architecture = "phi3", LayerNames = Phi3 };
    public static readonly GgufFamily Gemma2Family = new()
    {
        Architecture = "gemma2", LayerNames = Gemma2, NormPlusOne = true, QueryScale = QueryScaleCarrier.QueryProjection, WritesSlidingWindow = true,
    };
    public static readonly GgufFamily Gemma3Family = new()
    {
        Architecture = "gemma3", LayerNames = Gemma3, NormPlusOne = true, QueryScale = QueryScaleCarrier.QueryNorm, WritesSlidingWindow = true,
    };
}
