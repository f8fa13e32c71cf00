using LoraBuild.IO;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>Writes an HF model folder: config and tokenizer files carried over from the source, weights as model.safetensors.</summary>
public static class ModelWriter
{
    static readonly string[] CarriedFiles =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt",
    ];

    public static void Save(CausalLM model, string sourceDirectory, string outputDirectory)
    {
        AtomicFile.WriteDirectory(outputDirectory, temp =>
        {
            foreach (var name in CarriedFiles)
            {
                var source = Path.Combine(sourceDirectory, name);
                if (File.Exists(source)) File.Copy(source, Path.Combine(temp, name));
            }
            SafeTensorsWriter.Write(Path.Combine(temp, CheckpointReader.SingleFile),
                model.CheckpointParameters().Select(p => KeyValuePair.Create(p.Key, (Tensor)p.Parameter)),
                new Dictionary<string, string> { ["format"] = "pt" });
        });
    }
}
