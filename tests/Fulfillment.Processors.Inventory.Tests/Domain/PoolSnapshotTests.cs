using System.Text;
using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

public class PoolSnapshotTests
{
    /// <summary>
    /// A version-1 snapshot, byte for byte as the processor stored them before shops and exclusions: two sites,
    /// SKU A (5 on hand with 2 allocated at S1, 3 at S2), channel web mapped to S1 only with chain [Proximity] and no
    /// splits, order o1 holding 2 A at S1.
    /// </summary>
    private static byte[] Version1Snapshot()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)1);
            w.Write(false); // oversell
            w.Write(true); // split default
            w.Write7BitEncodedInt(0); // AllocateAvailable
            w.Write7BitEncodedInt(12); // command sequence
            w.Write7BitEncodedInt(2);
            foreach (var id in new[] { "S1", "S2" })
            {
                w.Write(id);
                w.Write7BitEncodedInt((int)LocationKind.Warehouse);
                w.Write(true);
                w.Write("US");
                w.Write(false); // region
                w.Write(false); // geo
                w.Write(true);
                w.Write7BitEncodedInt(0); // countries served
                w.Write(true);
                w.Write7BitEncodedInt(0); // regions served
                w.Write(false); // weight limit
                w.Write7BitEncodedInt(0); // priority
                w.Write(false); // address
            }

            w.Write7BitEncodedInt(1);
            w.Write("A");
            w.Write(false); // not a bundle
            w.Write7BitEncodedInt(2);
            foreach (var (onHand, allocated) in new[] { (5, 2), (3, 0) })
            {
                w.Write(true);
                w.Write7BitEncodedInt(onHand);
                w.Write7BitEncodedInt(allocated);
                w.Write7BitEncodedInt(0);
                w.Write7BitEncodedInt(0);
                w.Write7BitEncodedInt(0);
            }

            w.Write7BitEncodedInt(1);
            w.Write("web");
            w.Write(true); // configured
            w.Write(true);
            w.Write7BitEncodedInt(2);
            w.Write(true);
            w.Write(false); // mapped to S1 only
            w.Write7BitEncodedInt(1);
            w.Write7BitEncodedInt((int)RoutingRule.Proximity);
            w.Write7BitEncodedInt(1); // no splits
            w.Write(false); // ranking

            w.Write7BitEncodedInt(1);
            w.Write("o1");
            w.Write("web");
            w.Write7BitEncodedInt((int)FulfillmentMode.Merchant);
            w.Write7BitEncodedInt(0);
            w.Write(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks);
            w.Write7BitEncodedInt(0);
            w.Write("US");
            w.Write(false);
            w.Write(false);
            w.Write7BitEncodedInt(1);
            w.Write("1");
            w.Write7BitEncodedInt(0); // SKU A
            w.Write7BitEncodedInt(2);
            w.Write7BitEncodedInt(0);
            w.Write(true);
            w.Write7BitEncodedInt(1);
            w.Write7BitEncodedInt(0);
            w.Write7BitEncodedInt(1); // components: A × 1
            w.Write7BitEncodedInt(0); // shipped
            w.Write7BitEncodedInt(2); // allocated total
            w.Write7BitEncodedInt(1);
            w.Write7BitEncodedInt(0);
            w.Write7BitEncodedInt(2); // S1 × 2
            w.Write(false); // shipments
            w.Write(false); // waiting

            w.Write7BitEncodedInt(0); // transfers
        }

        return stream.ToArray();
    }

    [Fact]
    public void Read_Version1Snapshot_RestoresStateAndDecidesWithItsChannelSettings()
    {
        var state = PoolSnapshot.Read(Version1Snapshot());
        var pool = new PoolHarness { State = state };

        state.GetLevel("A", "S1").ShouldBe(new StockLevel(5, 2, 0, 0, 0));
        state.GetOrder("o1")!.Lines.Single().Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 2)]);
        state.GetOrder("o1")!.ShopId.ShouldBeNull();
        state.GetChannelAvailable("web", "A").ShouldBe(3, "web is mapped to S1 only");

        var decided = pool.Do(Order("o2", new ShipTo("US"), Line("1", "A", 4))).OfType<AllocationDecided>().Single();

        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)], "mapped to S1 only, and no splits");
        decided.RuleTrail.ShouldContain("proximity: S1 same country");
    }

    [Fact]
    public void Write_StateWithShopsExclusionsAndRequireFull_ReadsBackToTheSameBytesAndDecisions()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Site("S2", "US"), Receive("A", "S1", 5), Receive("A", "S2", 5),
            new SetChannelLocations("shopify", ["S1", "S2"]),
            new SetChannelLocations("shopify", ["S2"], ShopId: "west"),
            new SetRoutingRules("shopify", [RoutingRule.Proximity], true, [], ExcludedLocations: ["S1"], RequireFullAvailability: true, ShopId: "east"),
            Order("o1", new ShipTo("US"), "shopify", FulfillmentMode.Merchant, 0, null, Line("1", "A", 2)) with { ShopId = "east" });

        var bytes = PoolSnapshot.Write(pool.State);
        var restored = new PoolHarness { State = PoolSnapshot.Read(bytes) };
        PoolSnapshot.Write(restored.State).ShouldBe(bytes);

        PlaceOrder[] next =
        [
            Order("o2", new ShipTo("US"), "shopify", FulfillmentMode.Merchant, 0, null, Line("1", "A", 4)) with { ShopId = "east" },
            Order("o3", new ShipTo("US"), "shopify", FulfillmentMode.Merchant, 0, null, Line("1", "A", 1)) with { ShopId = "west" },
        ];
        var original = next.SelectMany(pool.Do).ToList();
        var afterRestore = next.SelectMany(restored.Do).ToList();

        Serialize(afterRestore).ShouldBe(Serialize(original));
        original.OfType<AllocationDecided>().First().Backordered.ShouldBe([new LineBackorder("1", "A", 4)], "east excludes S1 and requires full: S2 has 3 left");
        restored.State.GetOrder("o1")!.ShopId.ShouldBe("east");
    }
}
