using System.Buffers.Binary;

namespace Fulfillment.Processors.Runtime.TestWorker;

/// <summary>
/// The stateful topology the runtime's fault-injection, rebalance and restore tests run: a ledger of signed amounts per
/// account. Two stores (balance and entry count) so restores must agree across changelogs; every entry forwards the
/// account's new balance and count, so the deduplicated output pins down the exact processing order per account.
/// Entries whose amount is not 8 bytes fail to deserialize and go to the dead-letter topic; an amount of
/// <see cref="PoisonAmount"/> makes the handler throw (after writing to the store, which must be rolled back).
/// </summary>
public static class LedgerTopology
{
    public const long PoisonAmount = long.MinValue;

    public static ISerde<(long Balance, long Count)> EntrySerde { get; } = Serdes.Create<(long Balance, long Count)>(
        v =>
        {
            var bytes = new byte[16];
            BinaryPrimitives.WriteInt64BigEndian(bytes, v.Balance);
            BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(8), v.Count);
            return bytes;
        },
        b => b is { Length: 16 }
            ? (BinaryPrimitives.ReadInt64BigEndian(b), BinaryPrimitives.ReadInt64BigEndian(b.AsSpan(8)))
            : throw new FormatException("Expected 16 bytes."));

    public static LedgerHandles Build(string applicationId, string input, string output, string deadLetter)
    {
        var builder = new TopologyBuilder(applicationId).WithDeadLetterTopic(deadLetter);
        var balances = builder.AddStore("balances", Serdes.Utf8, Serdes.Int64);
        var counts = builder.AddStore("counts", Serdes.Utf8, Serdes.Int64);
        var outputHandle = builder.AddOutput(output, Serdes.Utf8, EntrySerde);
        var inputHandle = builder.AddInput(input, Serdes.Utf8, Serdes.Int64, (ctx, record) =>
        {
            var balanceStore = ctx.Store(balances);
            var countStore = ctx.Store(counts);
            var balance = balanceStore.GetOrDefault(record.Key, 0) + record.Value;
            balanceStore.Put(record.Key, balance);
            if (record.Value == PoisonAmount)
            {
                throw new InvalidOperationException("Poison entry.");
            }

            var count = countStore.GetOrDefault(record.Key, 0) + 1;
            countStore.Put(record.Key, count);
            ctx.Forward(outputHandle, record.Key, (balance, count));
        });
        return new LedgerHandles(builder.Build(), inputHandle, outputHandle, balances, counts);
    }
}

public sealed record LedgerHandles(
    Topology Topology,
    InputHandle<string, long> Input,
    OutputHandle<string, (long Balance, long Count)> Output,
    StoreHandle<string, long> Balances,
    StoreHandle<string, long> Counts);
