namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// Axolotl's <c>alpaca</c> types (prompters.py AlpacaPrompter.match_prompt_style and _build_result; prompt_tokenizers.py
/// AlpacaPromptTokenizingStrategy: instruction, input if present, output). <c>alpaca</c> is the instruct style,
/// <c>alpaca:chat</c> / <c>alpaca_chat</c> the USER/ASSISTANT style, <c>alpaca:chatml</c>, <c>alpaca:phi</c>. The system preamble
/// is the one for "with input" or "without input", chosen by whether input is empty, exactly as _build_result chooses.
/// </summary>
public sealed class AlpacaStrategy : IPromptStrategy
{
    // prompters.py AlpacaPrompter.system_prompt / system_no_input_prompt.
    const string SystemPrompt = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.";
    const string SystemNoInputPrompt = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";

    readonly string turn, turnNoInput, system;

    public AlpacaStrategy(string style)
    {
        // prompters.py match_prompt_style, one case per PromptStyle.
        (turn, turnNoInput, system) = style switch
        {
            "instruct" => ("### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n", "### Instruction:\n{instruction}\n\n### Response:\n", "{system}\n\n"),
            "chat" => ("USER: {instruction}\n{input}\nASSISTANT:", "USER: {instruction}\nASSISTANT:", "SYSTEM: {system}\n"),
            "chatml" => ("<|im_start|>user\n{instruction}\n{input}<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>user\n{instruction}<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>system\n{system}<|im_end|>\n"),
            "phi" => ("<|user|>\n{instruction}<|end|>{input}<|assistant|>", "<|user|>\n{instruction}<|end|>\n<|assistant|>\n", "<|system|>\n{system}<|end|>\n"),
            _ => throw new ArgumentOutOfRangeException(nameof(style), style, "instruct, chat, chatml or phi"),
        };
    }

    /// <summary>The style a type name selects: alpaca = instruct; alpaca:X = X; alpaca_chat = chat (alpaca_chat.py load).</summary>
    public static string StyleOf(string type) => type switch
    {
        "alpaca" or "alpaca:instruct" => "instruct",
        "alpaca_chat" or "alpaca:chat" => "chat",
        "alpaca:chatml" => "chatml",
        "alpaca:phi" => "phi",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public IReadOnlyList<string> RequiredColumns => ["instruction", "output"];

    public RawExample ToExample(DataRow row)
    {
        var instruction = row.Text("instruction")!;
        var input = row.Text("input", optional: true);
        var output = row.Text("output")!;
        return new RawExample(row.Location.File, row.Location.Line, ExampleFormat.PromptCompletion, Prompt: BuildPrompt(instruction, input), Completion: output) { Location = row.Location };
    }

    /// <summary>prompters.py _build_result without the output (the prompt the strategy tokenises before the response).</summary>
    public string BuildPrompt(string instruction, string? input) =>
        string.IsNullOrEmpty(input)
            ? PythonFormat.Apply(system, ("system", SystemNoInputPrompt)) + PythonFormat.Apply(turnNoInput, ("instruction", instruction))
            : PythonFormat.Apply(system, ("system", SystemPrompt)) + PythonFormat.Apply(turn, ("instruction", instruction), ("input", input));
}
