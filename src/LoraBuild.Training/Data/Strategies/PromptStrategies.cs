namespace LoraBuild.Training.Data.Strategies;

/// <summary>The strategy for a dataset entry's type.</summary>
public static class PromptStrategies
{
    public static IPromptStrategy For(DatasetSpec spec) => spec.Type switch
    {
        null => new AutoStrategy(),
        "user_defined" => new UserDefinedStrategy(spec.UserDefined!),
        "alpaca" or "alpaca:chat" or "alpaca:chatml" or "alpaca:phi" or "alpaca:instruct" or "alpaca_chat" => new AlpacaStrategy(AlpacaStrategy.StyleOf(spec.Type)),
        // alpaca_w_system.py: load = load_chat (SystemDataPrompter, chat style), load_instruct (instruct style: match_prompt_style sets
        // system_format to "{system}\n\n", replacing the class default); the system text is the row's system column.
        "alpaca_w_system" => new UserDefinedStrategy(new UserDefinedFormat(Format: "USER: {instruction}\n{input}\nASSISTANT:", NoInputFormat: "USER: {instruction}\nASSISTANT:", SystemFormat: "SYSTEM: {system}\n")),
        "alpaca_w_system.load_instruct" => new UserDefinedStrategy(new UserDefinedFormat(Format: "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n", NoInputFormat: "### Instruction:\n{instruction}\n\n### Response:\n", SystemFormat: "{system}\n\n")),
        "completion" => new CompletionStrategy(spec.Field),
        "input_output" => new InputOutputStrategy(),
        "chat_template" => new ChatTemplateStrategy(spec),
        "sharegpt" => new ChatTemplateStrategy(ChatTemplateStrategy.ShareGpt(spec)),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Type, "not a known dataset type"),
    };
}
