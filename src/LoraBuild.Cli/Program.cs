using System.CommandLine;
using LoraBuild.Cli.Commands;
using LoraBuild.Diagnostics;

namespace LoraBuild.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        ParentWatch.StartFromEnvironment(Console.Error.WriteLine);
        var root = new RootCommand("lorabuild: fine-tune, evaluate and run LoRA adapters on Hugging Face models (the LoraBuild worker).");
        root.Subcommands.Add(LogitsCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(BenchTokenizersCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(BenchServeCommand.Create());
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (LoraBuildException e)
        {
            // Canonical "file(line): error LBxxxx: message" form, which MSBuild turns into a coded build error.
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
    }
}
