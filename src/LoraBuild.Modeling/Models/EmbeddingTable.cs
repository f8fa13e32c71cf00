using LoraBuild.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>Token embedding lookup (HF <c>embed_tokens.weight</c> [vocab, hidden]).</summary>
public sealed class EmbeddingTable : nn.Module
{
    readonly Parameter weight;
    // Not registered: adapters' tables are no checkpoint weights of the model.
    readonly WeightCopies copies = new("model.embed_tokens");

    public EmbeddingTable(long vocab, long hidden, ScalarType dtype, Device device) : base(nameof(EmbeddingTable))
    {
        weight = new Parameter(empty(vocab, hidden, dtype, device), requires_grad: false);
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <summary>Adapters' trainable copies of the table (modules_to_save); the active one replaces <see cref="Weight"/>.</summary>
    public WeightCopies Copies => copies;

    public Tensor Forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var table = copies.Active ?? weight;
        var flat = table.index_select(0, ids.reshape(-1));
        // A copy is float32 (the optimizer's master values); the rows enter the model in its dtype.
        if (flat.dtype != weight.dtype) flat = flat.to_type(weight.dtype);
        return scope.MoveToOuter(flat.view(ids.shape[0], ids.shape[1], weight.shape[1]));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) copies.Dispose();
        base.Dispose(disposing);
    }
}
