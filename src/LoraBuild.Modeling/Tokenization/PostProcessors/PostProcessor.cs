using System.Text.Json;

namespace LoraBuild.Tokenization.PostProcessors;

/// <summary>HF tokenizers' post-processor: adds the special tokens of add_special_tokens=True around one sequence.</summary>
public abstract class PostProcessor
{
    /// <summary>The ids of a single sequence with the processor's special tokens.</summary>
    public abstract List<int> Process(List<int> ids);

    internal static PostProcessor? Read(JsonElement e, string path, ComponentReader reader)
    {
        if (ComponentReader.IsNull(e)) return null;
        var type = ComponentReader.Type(e);
        switch (type)
        {
            case "TemplateProcessing": return TemplateProcessing.ReadTemplate(e, path, reader);
            // ByteLevel only trims offsets; ids are unchanged.
            case "ByteLevel": return new ByteLevelPostProcessor();
            case "BertProcessing":
            case "RobertaProcessing":
                return e.TryGetProperty("cls", out var cls) && e.TryGetProperty("sep", out var sep)
                    ? new SurroundProcessor(cls[1].GetInt32(), sep[1].GetInt32())
                    : Invalid();
            case "Sequence":
                var steps = new List<PostProcessor>();
                if (e.TryGetProperty("processors", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var step in list.EnumerateArray())
                        if (Read(step, $"{path}.processors[{i++}]", reader) is { } p) steps.Add(p);
                }
                else reader.Invalid(path, "Sequence without 'processors'");
                return new SequencePostProcessor(steps);
            default:
                reader.Unsupported(path, $"post_processor '{type}' is not supported (TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence are)");
                return null;
        }

        PostProcessor? Invalid()
        {
            reader.Invalid(path, $"{type} without cls/sep");
            return null;
        }
    }
}

/// <summary>Offsets only; the ids pass through.</summary>
public sealed class ByteLevelPostProcessor : PostProcessor
{
    public override List<int> Process(List<int> ids) => ids;
}

/// <summary>BERT / RoBERTa: [CLS] A [SEP].</summary>
public sealed class SurroundProcessor(int cls, int sep) : PostProcessor
{
    public override List<int> Process(List<int> ids) => [cls, .. ids, sep];
}

/// <summary>Applies post-processors in order.</summary>
public sealed class SequencePostProcessor(IReadOnlyList<PostProcessor> steps) : PostProcessor
{
    public override List<int> Process(List<int> ids)
    {
        foreach (var step in steps) ids = step.Process(ids);
        return ids;
    }
}
