using System.Security.Cryptography;
using System.Text;
using LoraBuild.IO;

namespace LoraBuild.Models;

/// <summary>One hash for a model folder's identity: its config and weight files (cached per file by size and mtime).</summary>
public static class ModelHash
{
    public static string Sha256(string modelDirectory)
    {
        var files = new[] { "config.json", "model.safetensors.index.json" }.Select(f => Path.Combine(modelDirectory, f))
            .Concat(Directory.EnumerateFiles(modelDirectory, "*.safetensors").Order(StringComparer.Ordinal))
            .Where(File.Exists);
        var text = string.Join("\n", files.Select(f => $"{Path.GetFileName(f)}={FileHashes.Sha256(f)}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
    }
}
