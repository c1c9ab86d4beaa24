using System.Globalization;
using CsCheck;
using Fulfillment.Processors.Inventory.Domain;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

/// <summary>
/// The direct encoder of the hot outputs must write exactly what the generic path writes (AvroMapping's Avro objects
/// through the serde) for the same event and input metadata; consumers cannot tell which path produced a record.
/// </summary>
public sealed class HotOutputEncoderTests
{
    private static readonly InventoryPoolSerdes Serdes = InventoryPoolSerdes.Create(InventoryPoolTopics.Catalog, subject => subject.Length * 7);

    private static readonly string[] Texts = ["", "a", "SKU-00042", "WH-NJ", "élan", "日本倉庫", "📦 box", "x/y@z#1", new string('L', 300)];

    // Names AvroMapping maps (enum names, and numbers of defined members, as Enum.TryParse takes them) and names it skips.
    private static readonly string[] ChannelNames = [.. Enum.GetNames<Channel>(), "1", "NoSuchChannel", "shopify", ""];

    private static readonly Gen<string> Text = Gen.OneOf(Gen.OneOfConst(Texts), Gen.String[Gen.Char, 0, 40]);

    private static readonly Gen<EventMetadata> Metadata =
        Gen.Select(Text, Text, Text, Gen.Long[-62_135_596_800_000L / 10, 253_402_300_799_000L / 10], Gen.Int[0, 2])
            .Select((id, correlation, source, ms, kind) => new EventMetadata
            {
                event_id = id,
                pool_id = "ignored",
                correlation_id = correlation,
                causation_id = id,
                source_system = source,
                source_id = source,
                occurred_at = DateTime.SpecifyKind(DateTime.UnixEpoch.AddMilliseconds(ms), (DateTimeKind)kind),
                recorded_at = DateTime.UnixEpoch,
            });

    private static readonly Gen<ChannelAvailability> Channel =
        Gen.Select(Gen.OneOfConst(ChannelNames), Gen.Int, Gen.OneOf(Gen.Const((string?)null), Text.Select(t => (string?)t)))
            .Select((channel, available, shop) => new ChannelAvailability(channel, available, shop));

    private static readonly Gen<InventoryEvent> Level =
        Gen.Select(Text, Text, Gen.Int.Array[7], Channel.Array[0, 5])
            .Select((sku, location, n, channels) => (InventoryEvent)new StockLevelChanged(sku, location, n[0], n[1], n[2], n[3], n[4], n[5], n[6], channels));

    private static readonly Gen<InventoryEvent> Decided =
        Gen.Select(Text, Gen.Select(Text, Text, Text, Gen.Int).Select((l, s, loc, q) => new LineAllocation(l, s, loc, q)).Array[0, 6], Text.Array[0, 5])
            .Select((order, lines, trail) => (InventoryEvent)new AllocationDecided(order, "Shopify", lines, [], trail));

    [Fact]
    public void Encode_RandomLevelsAndDecisions_SameBytesAsTheGenericPath()
    {
        var encoder = HotOutputEncoder.TryCreate(Serdes).ShouldNotBeNull();
        Gen.Select(Gen.OneOf(Level, Decided), Metadata, Text, Gen.Int[0, 100_000], Gen.Long[0, long.MaxValue / 4], Gen.Long[0, 200_000_000_000_000L])
            .Sample((e, input, pool, index, offset, streamMs) =>
            {
                var recordedAt = DateTime.UnixEpoch.AddTicks(streamMs);
                var origin = new OutputOrigin(input, pool, string.Create(CultureInfo.InvariantCulture, $"orders/3/{offset}"), recordedAt);
                var occurred = encoder.Millis(input.occurred_at);
                var recorded = encoder.Millis(recordedAt);
                var metadata = new EventMetadata
                {
                    event_id = $"{input.event_id}/{index}",
                    pool_id = pool,
                    correlation_id = e is StockLevelChanged l ? $"{l.Sku}@{l.LocationId}" : ((AllocationDecided)e).OrderId,
                    causation_id = input.event_id,
                    source_system = InventoryPoolTopology.SourceSystem,
                    source_id = origin.SourceId,
                    occurred_at = input.occurred_at,
                    recorded_at = recordedAt,
                };

                if (e is StockLevelChanged)
                {
                    encoder.TryAllocation(e, origin, index, occurred, recorded).ShouldBeNull();
                    var expected = Serdes.StockLevels.Serialize(AvroMapping.ToStockLevelEvent(e, metadata)!);
                    encoder.TryStockLevel(e, origin, index, occurred, recorded).ShouldNotBeNull().ShouldBe(expected);
                }
                else
                {
                    encoder.TryStockLevel(e, origin, index, occurred, recorded).ShouldBeNull();
                    var expected = Serdes.Allocations.Serialize(AvroMapping.ToAllocationEvent(e, metadata)!);
                    encoder.TryAllocation(e, origin, index, occurred, recorded).ShouldNotBeNull().ShouldBe(expected);
                }
            }, iter: 2000);
    }

    [Fact]
    public void Encode_OtherEvents_LeftToTheGenericPath()
    {
        var encoder = HotOutputEncoder.TryCreate(Serdes).ShouldNotBeNull();
        var origin = new OutputOrigin(AvroEvents.Metadata("e", "pool", "c"), "pool", "orders/0/1", AvroEvents.T0);
        InventoryEvent[] others =
        [
            new OrderBackordered("o1", [new LineBackorder("1", "SKU", 2)], "short"),
            new AllocationReleased("o1", [], "cancelled", ReleaseCause.OrderCancelled),
            new DriftDetected("WH", "SKU", 3, 4, 1),
            new StockMoved("SKU", "WH", MovementKind.Receipt, 5, 5, "r1", null, AvroEvents.T0),
            new CommandRejected("place", "o1", "bad"),
        ];
        foreach (var e in others)
        {
            encoder.TryAllocation(e, origin, 0, 0, 0).ShouldBeNull();
            encoder.TryStockLevel(e, origin, 0, 0, 0).ShouldBeNull();
        }
    }
}
