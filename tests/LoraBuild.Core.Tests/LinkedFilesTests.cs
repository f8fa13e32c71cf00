using LoraBuild.IO;
using LoraBuild.Models;
using LoraBuild.SafeTensors;

namespace LoraBuild.Tests;

/// <summary>
/// A model folder laid out as the Hugging Face cache lays it out (snapshots/{commit}/ of relative symlinks into blobs/)
/// reads exactly as the plain folder: sizes, safetensors headers and the model hash come from the blobs, not the links.
/// </summary>
public sealed class LinkedFilesTests
{
    [Fact]
    public void A_model_folder_of_relative_symlinks_reads_like_the_real_files()
    {
        var source = Path.Combine(TestPaths.Fixtures, "hf", "llama");
        var root = Path.Combine(Path.GetTempPath(), "lorabuild-links-" + Guid.NewGuid().ToString("N"));
        var snapshot = Path.Combine(root, "snapshots", "abc");
        Directory.CreateDirectory(Path.Combine(root, "blobs"));
        Directory.CreateDirectory(snapshot);
        try
        {
            foreach (var name in new[] { "config.json", "model.safetensors" })
            {
                File.Copy(Path.Combine(source, name), Path.Combine(root, "blobs", name + ".blob"));
                File.CreateSymbolicLink(Path.Combine(snapshot, name), Path.Combine("..", "..", "blobs", name + ".blob"));
            }
            var weights = Path.Combine(snapshot, "model.safetensors");
            Assert.NotEqual(new FileInfo(Path.Combine(source, "model.safetensors")).Length, new FileInfo(weights).Length); // the link's own size
            Assert.Equal(new FileInfo(Path.Combine(source, "model.safetensors")).Length, LinkedFiles.Length(weights));

            using var linked = SafeTensorsFile.Open(weights);
            using var plain = SafeTensorsFile.Open(Path.Combine(source, "model.safetensors"));
            Assert.Equal(plain.Tensors.Keys.Order(), linked.Tensors.Keys.Order());
            Assert.Equal(FileHashes.Sha256Uncached(Path.Combine(source, "model.safetensors")), FileHashes.Sha256(weights));

            var copy = Path.Combine(root, "copy");
            Directory.CreateDirectory(copy);
            foreach (var name in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(source, name), Path.Combine(copy, name));
            Assert.Equal(ModelHash.Sha256(copy), ModelHash.Sha256(snapshot));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
