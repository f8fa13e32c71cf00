using System.CommandLine;
using LoraBuild.Cli.Commands;
using LoraBuild.Diagnostics;

namespace LoraBuild.Cli;

public static class Program
{
    /// <summary>Commands that never touch TorchSharp: they run without a libtorch. Every other command starts the native
    /// runtime here, before its action, so no command has to remember to (TorchSharp's own loader fails on Linux).</summary>
    static readonly HashSet<string> TorchFreeCommands = new(StringComparer.Ordinal) { "inspect", "bench-tokenizers", "check", "fetch", "bench-data" };

    /// <summary>Set to 1 to see the stack trace of an unexpected failure (a bug report's detail).</summary>
    const string DebugVariable = "LORABUILD_DEBUG";

    public static int Main(string[] args)
    {
        ParentWatch.StartFromEnvironment(Console.Error.WriteLine);
        GcTorture.StartFromEnvironment(Console.Error.WriteLine);
        // Which libtorch was loaded is information, not a problem: an event (stdout), so stderr carries only diagnostics.
        Native.TorchRuntime.Log = message => Events.WorkerEventWriter.Console.Result(Events.WorkerPhases.Loading, message);
        var root = new RootCommand("lorabuild: fine-tune, evaluate and run LoRA adapters on Hugging Face models (the LoraBuild worker).");
        root.Subcommands.Add(LogitsCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(BenchTokenizersCommand.Create());
        root.Subcommands.Add(BenchDataCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(FetchCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(BenchServeCommand.Create());
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0 && !IsHelpRequest(parse))
            {
                // Usage errors are coded like every other error, one line each, so MSBuild and scripts can read them.
                var command = string.Join(' ', parse.CommandResult.Command == root ? ["lorabuild"] : new[] { "lorabuild", parse.CommandResult.Command.Name });
                foreach (var error in parse.Errors)
                    Console.Error.WriteLine(new LoraBuildException(ErrorCodes.BadArgument, $"{command}: {error.Message} (see {command} --help)").ToString());
                return 1;
            }
            if (parse.Errors.Count == 0 && parse.CommandResult.Command != root && !TorchFreeCommands.Contains(parse.CommandResult.Command.Name)
                && !IsHelpRequest(parse))
                Native.TorchRuntime.EnsureLoaded();
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (LoraBuildException e)
        {
            // Canonical "file(line): error LBxxxx: message" form, which MSBuild turns into a coded build error.
            Console.Error.WriteLine(e.ToString());
            return 1;
        }
        catch (LoraBuild.Hub.HubException e)
        {
            // The Hub client's coded errors (LB04xx), in the same canonical form.
            Console.Error.WriteLine(e.ToString());
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file-system failure no command anticipated (a full disk, a path taken by a file) is still a coded error, not a stack trace.
            var code = Training.InjectedFault.IsDiskFull(e) ? ErrorCodes.DiskFull : ErrorCodes.OutputWriteFailed;
            Console.Error.WriteLine(new LoraBuildException(code, $"File system error: {e.Message}").ToString());
            return 1;
        }
        catch (Exception e)
        {
            // Anything else is a LoraBuild bug: one coded line for the user, the stack trace only when asked for.
            Console.Error.WriteLine(new LoraBuildException(ErrorCodes.InternalError,
                $"Unexpected {e.GetType().Name}: {e.Message} (a LoraBuild bug; set {DebugVariable}=1 for the stack trace and report it).").ToString());
            if (Environment.GetEnvironmentVariable(DebugVariable) == "1") Console.Error.WriteLine(e);
            return 1;
        }
    }

    static bool IsHelpRequest(ParseResult parse) =>
        parse.Tokens.Any(t => t.Value is "--help" or "-h" or "-?" or "/?" or "/h");
}
