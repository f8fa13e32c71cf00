using Microsoft.Build.Framework;

namespace LoraBuild.Tasks;

/// <summary>
/// Progress that every logger shows. The classic console logger, binary logs and IDEs print these events as
/// high-importance messages. The terminal logger hides task messages below -v:detailed and has no live channel for tasks
/// except the test-run protocol (VSTest and Microsoft.Testing.Platform use it): in a project where a target named
/// _TestRunStart has started (LoraBuild.targets runs one), a TLTESTPASSED message replaces the project's live status line
/// and a TLTESTOUTPUT message is printed at once. So a step line becomes the live status, a result line is printed.
/// </summary>
public static class BuildProgress
{
    /// <summary>A line worth keeping in the log (an eval result, a gate row, "done"): printed by every logger.</summary>
    public static void Line(IBuildEngine engine, string senderName, string text) =>
        engine.LogMessageEvent(new ExtendedBuildMessageEventArgs("TLTESTOUTPUT", text, null, senderName, MessageImportance.High));

    /// <summary>A transient status (step, loss, ETA): the terminal logger's live line; a printed line elsewhere.</summary>
    public static void Status(IBuildEngine engine, string senderName, string label, string text, string? liveText = null) =>
        engine.LogMessageEvent(new ExtendedBuildMessageEventArgs("TLTESTPASSED", text, null, senderName, MessageImportance.High)
        {
            ExtendedMetadata = new Dictionary<string, string?> { ["localizedResult"] = label, ["displayName"] = liveText ?? text },
        });
}
