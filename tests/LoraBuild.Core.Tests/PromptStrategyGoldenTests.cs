using LoraBuild.Training;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>
/// Each Axolotl dataset type gives the prompt text Axolotl's strategy builds for the same row. The expected strings are
/// written by hand from Axolotl's source at commit 067b021c (the line of each format string is noted), not from our code.
/// The config and rows go through the whole path: YAML datasets entry, local file reader, strategy.
/// </summary>
public class PromptStrategyGoldenTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // prompters.py:37 and :38, AlpacaPrompter.system_prompt / system_no_input_prompt.
    const string Sys = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.";
    const string SysNoInput = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";

    IReadOnlyList<RawExample> Examples(string datasetYaml, string fileName, string content)
    {
        File.WriteAllText(Path.Combine(dir, fileName), content);
        var yaml = Path.Combine(dir, "config.yml");
        File.WriteAllText(yaml, $"base_model: model\noutput_dir: out\ndatasets:\n  - path: {fileName}\n" + datasetYaml);
        var config = TrainingConfigLoader.Load(yaml);
        return DatasetLoader.Load(config.Datasets, new LocalDatasetSource());
    }

    const string AlpacaRows =
        "{\"instruction\": \"Translate to French\", \"input\": \"Good morning\", \"output\": \"Bonjour\"}\n" +
        "{\"instruction\": \"Name a colour\", \"input\": \"\", \"output\": \"Blue\"}\n";

    [Theory]
    // prompters.py:49-54 (INSTRUCT turn_format, turn_no_input_format, system_format "{system}\n\n"), _build_result :72-88.
    [InlineData("alpaca",
        Sys + "\n\n### Instruction:\nTranslate to French\n\n### Input:\nGood morning\n\n### Response:\nBonjour",
        SysNoInput + "\n\n### Instruction:\nName a colour\n\n### Response:\nBlue")]
    // prompters.py:55-58 (CHAT).
    [InlineData("alpaca:chat",
        "SYSTEM: " + Sys + "\nUSER: Translate to French\nGood morning\nASSISTANT:Bonjour",
        "SYSTEM: " + SysNoInput + "\nUSER: Name a colour\nASSISTANT:Blue")]
    // prompters.py:59-64 (CHATML).
    [InlineData("alpaca:chatml",
        "<|im_start|>system\n" + Sys + "<|im_end|>\n<|im_start|>user\nTranslate to French\nGood morning<|im_end|>\n<|im_start|>assistant\nBonjour",
        "<|im_start|>system\n" + SysNoInput + "<|im_end|>\n<|im_start|>user\nName a colour<|im_end|>\n<|im_start|>assistant\nBlue")]
    // prompters.py:65-70 (PHI: the input follows <|end|> with no newline, as written there).
    [InlineData("alpaca:phi",
        "<|system|>\n" + Sys + "<|end|>\n<|user|>\nTranslate to French<|end|>Good morning<|assistant|>Bonjour",
        "<|system|>\n" + SysNoInput + "<|end|>\n<|user|>\nName a colour<|end|>\n<|assistant|>\nBlue")]
    public void Alpaca_styles(string type, string withInput, string withoutInput)
    {
        var examples = Examples($"    type: {type}\n", "alpaca.jsonl", AlpacaRows);
        Assert.Equal([withInput, withoutInput], examples.Select(e => e.PromptText));
        // The prompt is what precedes the output (masked unless train_on_inputs).
        Assert.Equal("Bonjour", examples[0].Completion);
    }

    [Fact]
    public void Alpaca_with_no_input_column_uses_the_no_input_format()
    {
        // prompt_tokenizers.py AlpacaPromptTokenizingStrategy.parse_instruction_fields: input = "" when absent.
        var examples = Examples("    type: alpaca\n", "a.json", "[{\"instruction\": \"Say hi\", \"output\": \"hi\"}]");
        Assert.Equal(SysNoInput + "\n\n### Instruction:\nSay hi\n\n### Response:\nhi", examples[0].PromptText);
    }

    [Fact]
    public void User_defined_format_as_in_the_issue()
    {
        // user_defined.py:48-60 (fields; system from the row or system_prompt), alpaca_w_system.py:62-80 build_prompt_w_system
        // (system_format only when the system text is not empty; format when input is not empty, else no_input_format).
        var type = "    type:\n      field_instruction: question\n      field_output: answer\n      format: \"[INST] {instruction} {input} [/INST]\"\n" +
                   "      no_input_format: \"[INST] {instruction} [/INST]\"\n      system_prompt: Be brief.\n      system_format: \"<<SYS>>{system}<</SYS>>\\n\"\n";
        var examples = Examples(type, "u.jsonl",
            "{\"question\": \"2+2?\", \"answer\": \"4\"}\n{\"question\": \"Sum\", \"input\": \"1 1\", \"answer\": \"2\", \"system\": \"\"}\n");
        Assert.Equal("<<SYS>>Be brief.<</SYS>>\n[INST] 2+2? [/INST]4", examples[0].PromptText);
        // The row's own (empty) system column wins over system_prompt, and an empty system adds nothing.
        Assert.Equal("[INST] Sum 1 1 [/INST]2", examples[1].PromptText);
    }

    [Fact]
    public void User_defined_defaults_and_literal_braces()
    {
        // user_defined.py:26-28 defaults: format "{instruction} {input} ", no_input_format "{instruction} ". Python str.format: "{{" is "{".
        var examples = Examples("    type:\n      format: \"{{json}} {instruction}|{input}|\"\n", "b.jsonl",
            "{\"instruction\": \"go\", \"input\": \"x\", \"output\": \"y\"}\n{\"instruction\": \"stop\", \"output\": \"z\"}\n");
        Assert.Equal("{json} go|x|y", examples[0].PromptText);
        Assert.Equal("stop z", examples[1].PromptText);
    }

    [Fact]
    public void Completion_is_the_field_verbatim()
    {
        // completion.py CompletionPrompter.build_prompt yields the instruction (the field's text) unchanged; ds_cfg field.
        var examples = Examples("    type: completion\n    field: body\n", "c.csv", "id,body\n1,\"Once upon\na time, \"\"quoted\"\"\"\n");
        Assert.Equal("Once upon\na time, \"quoted\"", examples[0].PromptText);
        Assert.Equal(ExampleFormat.Text, examples[0].Format);
        Assert.True(examples[0].SplitLongText);
    }

    [Fact]
    public void Input_output_segments_keep_their_labels()
    {
        // input_output.py: each segment's text, learned when its label is true.
        var examples = Examples("    type: input_output\n", "io.jsonl",
            "{\"segments\": [{\"label\": false, \"text\": \"<s>Q: hi\\n\"}, {\"label\": true, \"text\": \"A: hello</s>\"}]}\n");
        Assert.Equal("<s>Q: hi\nA: hello</s>", examples[0].PromptText);
        Assert.Equal([false, true], examples[0].Segments!.Select(s => s.Label));
    }

    [Fact]
    public void Chat_template_with_sharegpt_mappings_roles_and_drop_system_message()
    {
        // chat_template.py:872-920 get_conversation_thread, :922 transform_message: properties through message_property_mappings,
        // roles through the default map (human -> user, gpt -> assistant), the first system turn dropped.
        var examples = Examples("    type: chat_template\n    field_messages: conversations\n    message_property_mappings:\n      role: from\n      content: value\n    drop_system_message: true\n",
            "sg.jsonl", "{\"conversations\": [{\"from\": \"system\", \"value\": \"S\"}, {\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Hello\"}]}\n");
        Assert.Equal([("user", "Hi"), ("assistant", "Hello")], examples[0].Messages!.Select(m => (m.Role, m.Content)));
        // Rendered by the model's template (ChatML here), as apply_chat_template renders the thread.
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n", ChatTemplate.ChatMl.Render(examples[0].Messages!, false));
    }

    [Fact]
    public void Chat_template_custom_roles_and_field_system()
    {
        // roles: {target: [sources]} replaces the default map (chat_template.py:69-70); field_system prepends a system turn (:878-884).
        var examples = Examples("    type: chat_template\n    roles:\n      user: [questioner]\n      assistant: [bot]\n", "r.jsonl",
            "{\"system\": \"Be kind\", \"messages\": [{\"role\": \"questioner\", \"content\": \"Q\"}, {\"role\": \"bot\", \"content\": \"A\"}]}\n");
        Assert.Equal([("system", "Be kind"), ("user", "Q"), ("assistant", "A")], examples[0].Messages!.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public void Sharegpt_type_is_normalised_to_role_and_content()
    {
        var examples = Examples("    type: sharegpt\n", "s.jsonl", "{\"conversations\": [{\"from\": \"human\", \"value\": \"Q\"}, {\"from\": \"gpt\", \"value\": \"A\"}]}\n");
        Assert.Equal([("user", "Q"), ("assistant", "A")], examples[0].Messages!.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public void Datasets_mix_in_list_order_with_split_slices()
    {
        File.WriteAllText(Path.Combine(dir, "one.jsonl"), string.Join("\n", Enumerable.Range(0, 10).Select(i => $"{{\"text\": \"a{i}\"}}")));
        File.WriteAllText(Path.Combine(dir, "two.csv"), "text\n" + string.Join("\n", Enumerable.Range(0, 4).Select(i => $"b{i}")));
        var yaml = Path.Combine(dir, "mix.yml");
        File.WriteAllText(yaml, "base_model: m\noutput_dir: o\ndatasets:\n  - path: one.jsonl\n    type: completion\n    split: train[:20%]\n  - path: two.csv\n    type: completion\n    split: train[-2:]\n");
        var config = TrainingConfigLoader.Load(yaml);
        Assert.Equal(["a0", "a1", "b2", "b3"], DatasetLoader.Load(config.Datasets, new LocalDatasetSource()).Select(e => e.Text));
    }
}
