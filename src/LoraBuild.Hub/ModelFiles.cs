namespace LoraBuild.Hub;

/// <summary>
/// The files a base model needs from its repo: configuration, tokenizer, chat template, safetensors weights and their
/// index. Never pickles (*.bin, *.pth), original/ checkpoints, GGUF or ONNX exports, which can be many times larger.
/// </summary>
public static class ModelFiles
{
    static readonly HashSet<string> Named = new(StringComparer.Ordinal)
    {
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json", "chat_template.jinja",
        "chat_template.json", "model.safetensors.index.json",
    };

    public static bool IsWanted(string path)
    {
        if (path.Contains('/')) return false; // original/, onnx/, gguf folders, subfolders of other pipelines
        return Named.Contains(path) || path.EndsWith(".safetensors", StringComparison.Ordinal);
    }

    /// <summary>Weight files, whose sha256 the lock file records.</summary>
    public static bool IsWeights(string path) => path.EndsWith(".safetensors", StringComparison.Ordinal);
}
