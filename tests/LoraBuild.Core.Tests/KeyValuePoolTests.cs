using LoraBuild.Models;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// The serving engine's KV pool: requests in slots of one tensor per layer, every position a row of its own. Two
/// sequences of different lengths, prefilled in chunks as rows (in the same passes as each other's decoding rows),
/// must give the logits a whole-sequence forward pass gives at every position they decode.
/// </summary>
public class KeyValuePoolTests
{
    public KeyValuePoolTests() => TestPaths.EnsureTorch();

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama")]
    [InlineData("phi3")]
    public void Rows_in_pool_slots_give_the_logits_of_a_whole_sequence_forward(string family)
    {
        using var scope = NewDisposeScope();
        using var model = ModelLoader.Load(TestPaths.ModelFolder(family));
        Assert.True(KeyValuePool.Supports(model.Config));
        var vocabulary = (int)model.Config.VocabSize;
        var random = new Random(3);
        var first = Enumerable.Range(0, 12).Select(_ => (long)random.Next(vocabulary)).ToArray();
        var second = Enumerable.Range(0, 7).Select(_ => (long)random.Next(vocabulary)).ToArray();
        using var _ = no_grad();
        using var pool = new KeyValuePool(model.Config, model.DType, model.Device);
        var (a, b) = (pool.Rent(), pool.Rent());

        // Pass 1: the first 7 positions of `first` as rows (a prefill chunk). Pass 2: the rest of `first` prefilled
        // beside all of `second`. Passes 3-4: both decode one position each (one row per slot), `first` longer; pass 5: `first` decodes alone.
        Tensor Pass(IReadOnlyList<int> decodeSlots, IReadOnlyList<long> decodeIds, IReadOnlyList<(int Slot, long[] Ids)> prefills)
        {
            var ids = decodeIds.Concat(prefills.SelectMany(p => p.Ids)).ToArray();
            using var caches = new RowCaches(pool, decodeSlots, prefills.Select(p => (p.Slot, p.Ids.Length)).ToList(), model.Device);
            // Every row's logits, to compare each position.
            return model.ForwardLastRows(tensor(ids, [ids.Length, 1]), caches).to_type(ScalarType.Float32);
        }
        var pass1 = Pass([], [], [(a, first[..7])]);
        var pass2 = Pass([], [], [(a, first[7..9]), (b, second[..5])]);
        var decoded = new List<Tensor>();
        for (var step = 0; step < 2; step++)
            decoded.Add(Pass([a, b], [first[9 + step], second[5 + step]], []));
        var alone = Pass([a], [first[11]], []);
        Assert.Equal((12, 7), (pool.Length(a), pool.Length(b)));

        var firstWhole = WholeSequence(model, first);
        AssertClose(firstWhole.narrow(0, 0, 7), pass1);
        AssertClose(firstWhole.narrow(0, 7, 2), pass2.narrow(0, 0, 2));
        AssertClose(firstWhole.narrow(0, 9, 1), decoded[0].narrow(0, 0, 1));
        AssertClose(firstWhole.narrow(0, 10, 1), decoded[1].narrow(0, 0, 1));
        AssertClose(firstWhole.narrow(0, 11, 1), alone);
        var secondWhole = WholeSequence(model, second);
        AssertClose(secondWhole.narrow(0, 0, 5), pass2.narrow(0, 2, 5));
        AssertClose(secondWhole.narrow(0, 5, 1), decoded[0].narrow(0, 1, 1));
        AssertClose(secondWhole.narrow(0, 6, 1), decoded[1].narrow(0, 1, 1));
    }

    static Tensor WholeSequence(CausalLM model, long[] ids) =>
        model.Forward(tensor(ids, [1, ids.Length])).select(0, 0).to_type(ScalarType.Float32);

    static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        var difference = (expected - actual).abs().max().item<float>();
        Assert.True(difference < 1e-4f, $"max |difference| {difference}");
        Assert.Equal(expected.argmax(-1).data<long>().ToArray(), actual.argmax(-1).data<long>().ToArray());
    }

    [Fact]
    public void Slots_and_capacity_grow_by_doubling_and_the_memory_goes_when_no_slot_is_rented()
    {
        using var model = ModelLoader.Load(TestPaths.ModelFolder("qwen3"));
        using var pool = new KeyValuePool(model.Config, model.DType, model.Device);
        var slots = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        Assert.Equal([0, 1, 2, 3, 4], slots);
        Assert.Equal((8, 64L), (pool.Slots, pool.Capacity));
        pool.Reserve(65);
        Assert.Equal(128, pool.Capacity);
        pool.Advance(slots[2], 40);
        pool.Return(slots[2]);
        Assert.Equal(2, pool.Rent());
        Assert.Equal(0, pool.Length(2));
        foreach (var slot in slots) pool.Return(slot);
        Assert.Equal((0, 0L), (pool.Slots, pool.Capacity));
    }
}
