namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// Axolotl's <c>chat_template</c> (prompt_strategies/chat_template.py: get_conversation_thread and transform_message): the
/// row's field_messages list, each message's properties read through message_property_mappings (role: from, content:
/// value for ShareGPT rows), its role renamed through roles (default human->user, gpt->assistant), a system turn from
/// field_system prepended when the row has one and the first message is not a system message, the first system message
/// dropped with drop_system_message. The model's chat template renders the conversation; roles_to_train are learned.
/// </summary>
public sealed class ChatTemplateStrategy(DatasetSpec spec) : IPromptStrategy
{
    public IReadOnlyList<string> RequiredColumns => [spec.FieldMessages];

    /// <summary>type: sharegpt (removed from Axolotl in favour of chat_template): ShareGPT rows normalised to role/content.</summary>
    public static DatasetSpec ShareGpt(DatasetSpec spec) => spec with
    {
        FieldMessages = spec.FieldMessages == "messages" ? "conversations" : spec.FieldMessages,
        MessagePropertyMappings = new Dictionary<string, string> { ["role"] = "from", ["content"] = "value" },
    };

    public RawExample ToExample(DataRow row)
    {
        if (!row.Fields.TryGetValue(spec.FieldMessages, out var value) || value is null)
            throw row.Invalid($"no \"{spec.FieldMessages}\" column (field_messages) with the conversation (columns: {string.Join(", ", row.Fields.Keys)}).");
        if (value is not IReadOnlyList<object?> { Count: > 0 } messages)
            throw row.Invalid($"\"{spec.FieldMessages}\" must be a non-empty list of messages, found {DataRow.Describe(value)}.");
        var turns = new List<ChatMessage>();
        var first = Transform(messages[0], 0, row);
        if (first.Role != "system" && row.Fields.GetValueOrDefault(spec.FieldSystem) is string system)
            turns.Add(new ChatMessage("system", system));
        for (var i = 0; i < messages.Count; i++) turns.Add(i == 0 ? first : Transform(messages[i], i, row));
        if (spec.DropSystemMessage && turns[0].Role == "system") turns.RemoveAt(0);
        if (!turns.Any(t => spec.RolesToTrain.Contains(t.Role)))
            throw row.Invalid($"the conversation has no {string.Join(" or ", spec.RolesToTrain)} message to learn from (roles: {string.Join(", ", turns.Select(t => t.Role).Distinct())}; check roles / message_property_mappings).");
        return new RawExample(row.Location.File, row.Location.Line, ExampleFormat.Chat, Messages: turns) { Location = row.Location };
    }

    ChatMessage Transform(object? message, int index, DataRow row)
    {
        if (message is not IReadOnlyDictionary<string, object?> fields)
            throw row.Invalid($"{spec.FieldMessages}[{index}] must be a record, found {DataRow.Describe(message)}.");
        string Property(string name)
        {
            var column = spec.MessagePropertyMappings[name];
            return fields.GetValueOrDefault(column) switch
            {
                string s => s,
                null => throw row.Invalid($"{spec.FieldMessages}[{index}] has no \"{column}\" ({name}; message_property_mappings maps {name} to {column}; the message has {string.Join(", ", fields.Keys)})."),
                var other => throw row.Invalid($"{spec.FieldMessages}[{index}].{column} must be text, found {DataRow.Describe(other)}."),
            };
        }
        var role = Property("role");
        return new ChatMessage(spec.Roles.GetValueOrDefault(role, role), Property("content"));
    }
}
