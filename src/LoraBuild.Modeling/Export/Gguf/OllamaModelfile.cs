using System.Text;
using LoraBuild.Generation;
using LoraBuild.IO;
using LoraBuild.Tokenization;

namespace LoraBuild.Export.Gguf;

/// <summary>
/// An Ollama <c>Modelfile</c> beside an exported GGUF: <c>FROM</c> the model GGUF, <c>ADAPTER</c> the LoRA GGUF when the
/// export is an adapter, and one <c>PARAMETER stop</c> per token that ends generation (<see cref="StopTokens"/>: the
/// tokenizer's EOS and every eos_token_id of config.json / generation_config.json, as LoraBuild's generator stops).
/// No TEMPLATE: Ollama's templates are Go templates and the model's is Jinja; a translation would be a guess.
/// </summary>
public static class OllamaModelfile
{
    /// <summary>The FROM of an adapter's Modelfile when no base GGUF path is given: the name docs/gguf.md exports it to.</summary>
    public const string BasePlaceholder = "./base.gguf";

    /// <param name="modelDirectory">The Hugging Face model folder (its tokenizer and configs give the stop tokens).</param>
    /// <param name="from">The FROM value: a path relative to the Modelfile (./x.gguf), an absolute path, or an Ollama model name.</param>
    /// <param name="adapter">The ADAPTER value, or null for a model GGUF (base or merged).</param>
    /// <param name="fromIsPlaceholder">FROM names a file the user still has to write: the Modelfile says how.</param>
    public static string Text(string modelDirectory, string from, string? adapter, bool fromIsPlaceholder)
    {
        var tokenizer = HfTokenizer.Load(modelDirectory);
        var text = new StringBuilder();
        text.Append("# Ollama Modelfile written by lorabuild export gguf (docs/gguf.md). Use: ollama create NAME -f Modelfile\n");
        if (fromIsPlaceholder)
            text.Append($"# FROM: the base model as GGUF, which this build did not write. Write it beside this file with\n")
                .Append($"#   lorabuild export gguf --model {Path.GetFullPath(modelDirectory)} --out base.gguf --outtype f16\n")
                .Append("# or replace the line with the path of a GGUF of the same base model.\n");
        text.Append("FROM ").Append(from).Append('\n');
        if (adapter is not null) text.Append("ADAPTER ").Append(adapter).Append('\n');
        foreach (var id in StopTokens.Resolve(tokenizer, modelDirectory).Order())
        {
            var token = tokenizer.Decode([id], skipSpecialTokens: false);
            if (token.Length > 0) text.Append("PARAMETER stop ").Append(Quote(token)).Append('\n');
        }
        text.Append("# No TEMPLATE: the chat template is Jinja (stored in the GGUF as tokenizer.chat_template) and Ollama's are Go\n")
            .Append("# templates; Ollama picks a template from the GGUF's when it recognizes it (check: ollama show NAME --modelfile).\n");
        return text.ToString();
    }

    /// <summary>Writes the Modelfile whole or not at all.</summary>
    public static void Write(string path, string modelDirectory, string from, string? adapter, bool fromIsPlaceholder) =>
        AtomicFile.WriteAllText(path, Text(modelDirectory, from, adapter, fromIsPlaceholder));

    /// <summary>A path as Ollama resolves it: relative to the Modelfile's folder when it lies under it.</summary>
    public static string RelativePath(string modelfilePath, string target)
    {
        var relative = Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(modelfilePath))!, Path.GetFullPath(target)).Replace('\\', '/');
        return relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? Path.GetFullPath(target) : "./" + relative;
    }

    /// <summary>Ollama's quoted string: backslash escapes quote and backslash; a newline stays literal inside the quotes.</summary>
    static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
