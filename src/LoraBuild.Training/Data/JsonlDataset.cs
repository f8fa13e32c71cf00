using System.Text.Json;
using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data;

/// <summary>The shapes a JSONL line may take.</summary>
public enum ExampleFormat { Text, PromptCompletion, Alpaca, Chat, Segments }

/// <summary>One chat message; <see cref="Extra"/> holds its other JSON fields (reasoning_content, tool_calls, ...) for the template.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public IReadOnlyDictionary<string, object?>? Extra { get; init; }

    /// <summary>The message as the chat template sees it: a dict with role, content and the other fields.</summary>
    public OrderedDictionary<string, object?> ToTemplateValue()
    {
        var value = new OrderedDictionary<string, object?>(StringComparer.Ordinal) { ["role"] = Role, ["content"] = Content };
        if (Extra is not null) foreach (var (key, field) in Extra) value[key] = field;
        return value;
    }
}

/// <summary>One parsed line: where it came from and its content, before templates and tokenisation.</summary>
public sealed record RawExample(string File, int Line, ExampleFormat Format, string? Text = null, string? Prompt = null,
    string? Completion = null, IReadOnlyList<ChatMessage>? Messages = null)
{
    /// <summary>input_output: text segments, each learned or not, tokenised without added special tokens.</summary>
    public IReadOnlyList<TextSegment>? Segments { get; init; }
    /// <summary>Where the row is, for messages (a Parquet row group and row where there is no line).</summary>
    public RowLocation? Location { get; init; }
    /// <summary>completion: a text longer than sequence_len becomes several examples (Axolotl cuts it), not one truncated.</summary>
    public bool SplitLongText { get; init; }
    /// <summary>The text the model sees, as Axolotl's prompter builds it (prompt and completion joined), for goldens and check.</summary>
    public string PromptText => Format switch
    {
        ExampleFormat.Text => Text!,
        ExampleFormat.Segments => string.Concat(Segments!.Select(s => s.Text)),
        ExampleFormat.Chat => throw new InvalidOperationException("a chat example's text is its chat template's rendering"),
        _ => Prompt + Completion,
    };
}

/// <summary>One input_output segment.</summary>
public sealed record TextSegment(string Text, bool Label);

/// <summary>
/// Reads a JSONL dataset: one JSON object a line, in one of four shapes — <c>{"text"}</c>, <c>{"prompt","completion"}</c>,
/// alpaca <c>{"instruction","input","output"}</c>, chat <c>{"messages":[{"role","content"}]}</c>. A malformed line is an
/// error naming file:line and the reason; blank lines are allowed; an empty dataset is an error.
/// </summary>
public static class JsonlDataset
{
    static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    public static IReadOnlyList<RawExample> Read(string path) => Stream(path).ToList();

    /// <summary>
    /// The file's examples, line by line (a file larger than memory streams). Every problem is collected: after the
    /// first, nothing more is yielded and the enumeration ends by throwing them all at once.
    /// </summary>
    public static IEnumerable<RawExample> Stream(string path)
    {
        if (!File.Exists(path)) throw new LoraBuildException(ErrorCodes.DatasetMissing, "Dataset file not found.", path);
        return Lines(path);
    }

    static IEnumerable<RawExample> Lines(string path)
    {
        var errors = new List<LoraBuildException>();
        var count = 0;
        foreach (var (lineNumber, line) in ReadLinesStrict(path, errors))
        {
            if (line is null || string.IsNullOrWhiteSpace(line)) continue;
            RawExample example;
            try
            {
                example = ParseLine(line, path, lineNumber);
            }
            catch (LoraBuildException e)
            {
                errors.Add(e);
                continue;
            }
            if (errors.Count > 0) continue;
            count++;
            yield return example;
        }
        if (errors.Count == 1) throw errors[0];
        if (errors.Count > 1)
        {
            // All problems of the file at once, located at the first; the message lists up to 20 lines.
            var listed = errors.Take(20).Select(e => $"line {e.Line}: {e.Message}");
            throw new LoraBuildException(ErrorCodes.DatasetLineInvalid,
                $"{errors.Count} malformed lines: " + string.Join(" | ", listed) + (errors.Count > 20 ? $" | and {errors.Count - 20} more" : ""),
                path, errors[0].Line);
        }
        if (count == 0)
            throw new LoraBuildException(ErrorCodes.DatasetEmpty, "Dataset has no examples (every line is blank).", path, 1);
    }

    /// <summary>
    /// Lines decoded as strict UTF-8: a line with invalid bytes is an error naming it (null text), never text with U+FFFD
    /// in place of the bytes, which would be trained on silently.
    /// </summary>
    internal static IEnumerable<(int Line, string? Text)> ReadLinesStrict(string path, List<LoraBuildException> errors)
    {
        var strict = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new MemoryStream();
        var lineNumber = 0;
        int next;
        do
        {
            next = stream.ReadByte();
            if (next != '\n' && next != -1)
            {
                buffer.WriteByte((byte)next);
                continue;
            }
            if (next == -1 && buffer.Length == 0) break;
            lineNumber++;
            var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            if (lineNumber == 1 && bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
            if (bytes.Length > 0 && bytes[^1] == '\r') bytes = bytes[..^1];
            string? text = null;
            try
            {
                text = strict.GetString(bytes);
            }
            catch (System.Text.DecoderFallbackException e)
            {
                errors.Add(new LoraBuildException(ErrorCodes.DatasetLineInvalid,
                    $"not valid UTF-8 (byte 0x{bytes[Math.Max(0, e.Index)]:X2} at column {Math.Max(0, e.Index) + 1}); save the file as UTF-8.", path, lineNumber));
            }
            buffer.SetLength(0);
            yield return (lineNumber, text);
        } while (next != -1);
    }

    static RawExample ParseLine(string line, string path, int lineNumber)
    {
        LoraBuildException Bad(string reason) => new(ErrorCodes.DatasetLineInvalid, reason, path, lineNumber);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw Bad($"not valid JSON ({e.Message.Split(" LineNumber")[0].TrimEnd('.', ' ')}).");
        }
        using (document)
        try
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad($"expected a JSON object, found {root.ValueKind.ToString().ToLowerInvariant()}.");

            string String(string key, bool required = true)
            {
                if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
                    return required ? throw Bad($"missing \"{key}\".") : "";
                return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Bad($"\"{key}\" must be a string, found {value.ValueKind.ToString().ToLowerInvariant()}.");
            }

            if (root.TryGetProperty("messages", out var messages))
            {
                if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0) throw Bad("\"messages\" must be a non-empty array.");
                var list = new List<ChatMessage>();
                var index = 0;
                foreach (var message in messages.EnumerateArray())
                {
                    if (message.ValueKind != JsonValueKind.Object) throw Bad($"messages[{index}] must be an object with \"role\" and \"content\".");
                    var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : throw Bad($"messages[{index}] has no string \"role\".");
                    if (!Roles.Contains(role)) throw Bad($"messages[{index}].role '{role}' is not one of {string.Join(", ", Roles)}.");
                    var content = message.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : throw Bad($"messages[{index}] has no string \"content\".");
                    var extra = message.EnumerateObject().Where(p => p.Name is not ("role" or "content"))
                        .ToDictionary(p => p.Name, p => LoraBuild.Templating.Jinja.JinjaTemplate.FromJson(p.Value), StringComparer.Ordinal);
                    list.Add(new ChatMessage(role, content) { Extra = extra.Count > 0 ? extra : null });
                    index++;
                }
                if (!list.Any(m => m.Role == "assistant")) throw Bad("chat example has no assistant message to learn from.");
                return new RawExample(path, lineNumber, ExampleFormat.Chat, Messages: list);
            }
            if (root.TryGetProperty("instruction", out _))
                return new RawExample(path, lineNumber, ExampleFormat.Alpaca, Prompt: AlpacaPrompt(String("instruction"), String("input", required: false)), Completion: String("output"));
            if (root.TryGetProperty("prompt", out _))
                return new RawExample(path, lineNumber, ExampleFormat.PromptCompletion, Prompt: String("prompt"), Completion: String("completion"));
            if (root.TryGetProperty("text", out _))
                return new RawExample(path, lineNumber, ExampleFormat.Text, Text: String("text"));
            throw Bad("line has none of the supported shapes: {\"text\"}, {\"prompt\",\"completion\"}, {\"instruction\",\"input\",\"output\"}, {\"messages\"}.");
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json will not decode a string holding a lone surrogate escape such as \ud800: it is not text.
            throw Bad("a string is not valid Unicode (a lone surrogate escape such as \\ud800).");
        }
    }

    /// <summary>The Alpaca prompt (without its long preamble, which costs tokens and teaches nothing).</summary>
    public static string AlpacaPrompt(string instruction, string input) =>
        string.IsNullOrEmpty(input)
            ? $"### Instruction:\n{instruction}\n\n### Response:\n"
            : $"### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n";
}
