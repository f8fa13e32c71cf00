using System.CommandLine;
using System.Text.Json.Nodes;
using LoraBuild.Cli.Hub;
using LoraBuild.Diagnostics;
using LoraBuild.Events;
using LoraBuild.Hub;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild fetch</c>: resolves Hub base models ("org/name[@rev]") to commits against lora.lock.json and brings
/// their files into the HF cache. The SDK runs it before training so downloads happen here, not in the MSBuild node;
/// --result tells the tasks each model's snapshot folder and commit.
/// </summary>
public static class FetchCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model") { Description = "Hub id org/name[@revision] (repeatable).", Required = true, AllowMultipleArgumentsPerToken = false };
        var lockPath = new Option<string?>("--lock") { Description = "lora.lock.json to read and update (none: resolve without a lock)." };
        var locked = new Option<bool>("--locked") { Description = "Fail when the lock is missing, lacks a model, or a revision moved (LoraBuildLockedMode)." };
        var update = new Option<bool>("--update-lock") { Description = "Re-resolve every revision and rewrite the lock (LoraBuildUpdateLock)." };
        var result = new Option<string?>("--result") { Description = "Write [{model, id, revision, commit, folder}] here (JSON)." };
        var command = new Command("fetch", "Download Hub base models into the HF cache, pinned by lora.lock.json.") { models, lockPath, locked, update, result };
        command.SetAction(parse =>
        {
            using var client = new HubClient(HubSettings.FromEnvironment());
            var lockFile = parse.GetValue(lockPath) is { } path
                ? new BaseModelLock(client, Path.GetFullPath(path), parse.GetValue(locked), parse.GetValue(update))
                : null;
            var answers = new JsonArray();
            foreach (var text in parse.GetValue(models) ?? [])
            {
                var reference = HubReference.TryParse(text)
                    ?? throw new HubException(ErrorCodes.HubIdInvalid, $"'{text}' is not a Hub model id (org/name, optionally @revision) nor an existing folder.");
                var snapshot = lockFile is not null ? lockFile.Resolve(reference) : HubModels.Download(client, reference.Repo, reference.Revision);
                WorkerEventWriter.Console.Result("download", $"model: {reference} -> {snapshot.Commit} ({snapshot.Folder})");
                answers.Add(new JsonObject
                {
                    ["model"] = text, ["id"] = reference.Repo.Id, ["revision"] = reference.Revision,
                    ["commit"] = snapshot.Commit, ["folder"] = snapshot.Folder,
                });
            }
            if (lockFile?.Save() == true) WorkerEventWriter.Console.Result("download", $"wrote {parse.GetValue(lockPath)}");
            if (parse.GetValue(result) is { } resultPath) IO.AtomicFile.WriteAllText(resultPath, answers.ToJsonString() + "\n");
            return 0;
        });
        return command;
    }
}
