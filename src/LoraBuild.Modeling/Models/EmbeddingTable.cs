using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>Token embedding lookup (HF <c>embed_tokens.weight</c> [vocab, hidden]).</summary>
public sealed class EmbeddingTable : nn.Module
{
    readonly Parameter weight;

    public EmbeddingTable(long vocab, long hidden, ScalarType dtype, Device device) : base(nameof(EmbeddingTable))
    {
        weight = new Parameter(empty(vocab, hidden, dtype, device), requires_grad: false);
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public Tensor Forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var flat = weight.index_select(0, ids.reshape(-1));
        return scope.MoveToOuter(flat.view(ids.shape[0], ids.shape[1], weight.shape[1]));
    }
}
