using System.Security.Cryptography;
using System.Text;
using LoraBuild.IO;

namespace LoraBuild.Models;

/// <summary>One hash for a model folder's identity: its config and weight files (cached per file by size and mtime).</summary>
public static class ModelHash
{
    /// <param name="trustCache">False: hash every file's bytes now (a file rewritten with its size and mtime kept is caught).</param>
    public static string Sha256(string modelDirectory, bool trustCache = true)
    {
        var files = new[] { "config.json", "model.safetensors.index.json" }.Select(f => Path.Combine(modelDirectory, f))
            .Concat(Directory.EnumerateFiles(modelDirectory, "*.safetensors").Order(StringComparer.Ordinal))
            .Where(File.Exists);
        var text = string.Join("\n", files.Select(f => $"{Path.GetFileName(f)}={(trustCache ? FileHashes.Sha256(f) : FileHashes.Sha256Uncached(f))}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
    }
}
