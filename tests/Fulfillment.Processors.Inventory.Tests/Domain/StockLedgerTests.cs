using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

public class StockLedgerTests
{
    private static readonly ShipTo Us = new("US");

    [Fact]
    public void Transfer_ShippedThenShortReceipt_CountsInTransitAndBooksDiscrepancy()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Site("S2", "US"), Receive("A", "S1", 10));

        pool.Do(new RequestTransfer("t1", "S1", "S2", [new SkuQuantity("A", 6)]));
        pool.State.GetLevel("A", "S1").ShouldBe(new StockLevel(10, 0, 6, 0, 0));

        var shipped = pool.Do(new ShipTransfer("t1", [new SkuQuantity("A", 5)]));
        shipped.OfType<StockMoved>().Single().ShouldBe(new StockMoved("A", "S1", MovementKind.TransferShipped, -5, 5, "t1", null, pool.Now.AddSeconds(-1)));
        pool.State.GetLevel("A", "S1").ShouldBe(new StockLevel(5, 0, 0, 0, 0));
        pool.State.GetLevel("A", "S2").ShouldBe(new StockLevel(0, 0, 0, 0, 5));
        shipped.OfType<StockLevelChanged>().Single(l => l.LocationId == "S2").InTransit.ShouldBe(5);

        var received = pool.Do(new ReceiveTransfer("t1", [new SkuQuantity("A", 4)]));
        received.OfType<StockMoved>().Select(m => (m.Kind, m.Delta, m.ReasonCode)).ShouldBe(
            [(MovementKind.TransferReceived, 5, null), (MovementKind.TransferDiscrepancy, -1, "short-receipt")]);
        pool.State.GetLevel("A", "S2").ShouldBe(new StockLevel(4, 0, 0, 0, 0));
        received.OfType<TransferUpdated>().Single().Status.ShouldBe(TransferStatus.Received);
    }

    [Fact]
    public void Transfer_OverReceipt_BooksPositiveDiscrepancy()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Site("S2", "US"), Receive("A", "S1", 10));
        pool.Do(new RequestTransfer("t1", "S1", "S2", [new SkuQuantity("A", 3)]));
        pool.Do(new ShipTransfer("t1", [new SkuQuantity("A", 3)]));

        var received = pool.Do(new ReceiveTransfer("t1", [new SkuQuantity("A", 4)]));

        received.OfType<StockMoved>().Last().ShouldBe(new StockMoved("A", "S2", MovementKind.TransferDiscrepancy, 1, 4, "t1", "over-receipt", pool.Now.AddSeconds(-1)));
    }

    [Fact]
    public void Transfer_MoreThanMovable_IsRejected()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Site("S2", "US"), Receive("A", "S1", 3));
        pool.Do(Order("o1", Us, Line("1", "A", 2)));

        pool.Do(new RequestTransfer("t1", "S1", "S2", [new SkuQuantity("A", 2)]))
            .ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldBe("only 1 of 'A' movable at S1, 2 requested");
    }

    [Fact]
    public void Transfer_Received_FillsBackorderAtDestination()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Site("S2", "US", serves: ["CA"]), Receive("A", "S2", 5));
        pool.Do(Order("o1", Us, Line("1", "A", 2)));
        pool.Do(new RequestTransfer("t1", "S2", "S1", [new SkuQuantity("A", 2)]));
        pool.Do(new ShipTransfer("t1", [new SkuQuantity("A", 2)]));

        var events = pool.Do(new ReceiveTransfer("t1", [new SkuQuantity("A", 2)]));

        events.OfType<AllocationDecided>().Single().Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 2)]);
    }

    [Fact]
    public void Snapshot_From3pl_EmitsDriftAndBooksDeltas()
    {
        var pool = new PoolHarness().With(
            Site("TPL", "US", kind: LocationKind.ThirdParty),
            Receive("A", "TPL", 10), Receive("B", "TPL", 4), Receive("C", "TPL", 7));

        var events = pool.Do(new ReconcileSnapshot("TPL", [new SkuQuantity("B", 4), new SkuQuantity("A", 8)], Complete: true));

        events.OfType<DriftDetected>().ShouldBe([new DriftDetected("TPL", "A", 10, 8, -2), new DriftDetected("TPL", "C", 7, 0, -7)]);
        events.OfType<StockMoved>().Select(m => (m.Sku, m.Kind, m.Delta)).ShouldBe(
            [("A", MovementKind.SnapshotReconciliation, -2), ("C", MovementKind.SnapshotReconciliation, -7)]);
        pool.State.GetLevel("C", "TPL")!.OnHand.ShouldBe(0);
    }

    [Fact]
    public void Snapshot_PartialAndMatching_EmitsNothingButLevels()
    {
        var pool = new PoolHarness().With(Site("TPL", "US", kind: LocationKind.ThirdParty), Receive("A", "TPL", 10), Receive("C", "TPL", 7));

        pool.Do(new ReconcileSnapshot("TPL", [new SkuQuantity("A", 10)], Complete: false)).ShouldBeEmpty();
    }

    [Fact]
    public void Adjust_BelowAllocated_ReleasesNewestOrderAndReallocatesElsewhere()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Site("S2", "US"), Receive("A", "S1", 4), Receive("A", "S2", 1));
        pool.Do(Order("old", Us, "web", FulfillmentMode.Merchant, 0, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), Line("1", "A", 2)));
        pool.Do(Order("new", Us, "web", FulfillmentMode.Merchant, 0, new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero), Line("1", "A", 2)));

        var events = pool.Do(new AdjustStock("A", "S1", -1, "damaged"));

        events.OfType<AllocationReleased>().Single().OrderId.ShouldBe("new");
        pool.State.GetOrder("old")!.Lines[0].Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 2)]);
        pool.State.GetOrder("new")!.Lines[0].Allocations.Sum(a => a.Quantity).ShouldBe(2);
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBeLessThanOrEqualTo(3);
        pool.State.GetLevel("A", "S2")!.Allocated.ShouldBe(1);
    }

    [Fact]
    public void Count_BooksDifferenceAsCycleCountMovement()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 10));

        var events = pool.Do(new CountStock("A", "S1", 7));

        events.OfType<StockMoved>().Single().ShouldBe(new StockMoved("A", "S1", MovementKind.CycleCount, -3, 7, "A@S1", "cycle-count", pool.Now.AddSeconds(-1)));
    }

    [Fact]
    public void Restock_OfReturnedBundle_PutsComponentsBack()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]));

        pool.Do(new RestockReturn("r1", "KIT", "S1", 2));

        pool.State.GetLevel("A", "S1")!.OnHand.ShouldBe(2);
        pool.State.GetLevel("B", "S1")!.OnHand.ShouldBe(4);
    }

    [Fact]
    public void StockLevel_PerChannelAvailable_ExcludesFbaUnmappedAndSafety()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Site("S2", "US"), Site("FBA", "US", kind: LocationKind.AmazonFba),
            new SetChannelLocations("ebay", ["S2"]),
            new SetRoutingRules("web", [RoutingRule.MinimiseSplits], true, []),
            Receive("A", "S2", 3), Receive("A", "FBA", 50), new SetSafetyStock("A", "S2", 1));

        var events = pool.Do(Receive("A", "S1", 5));

        var level = events.OfType<StockLevelChanged>().Single();
        (level.Sku, level.LocationId, level.OnHand, level.Available).ShouldBe(("A", "S1", 5, 5));
        // ebay is not mapped to S1, so only web's total changed: S1 5 + S2 (3 − 1 safety); FBA never counts.
        level.ChannelAvailable.ShouldBe([new ChannelAvailability("web", 7)]);
        pool.State.GetChannelAvailable("ebay", "A").ShouldBe(2);
    }

    [Fact]
    public void BundleAvailability_ComponentReceived_ReportsSellableKitsPerChannel()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), new SetChannelLocations("web", ["S1"]),
            new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]), Receive("B", "S1", 5));

        var events = pool.Do(Receive("A", "S1", 10));

        var bundle = events.OfType<BundleAvailabilityChanged>().Single();
        bundle.BundleSku.ShouldBe("KIT");
        bundle.ChannelAvailable.ShouldBe([new ChannelAvailability("web", 2)]);
    }

    [Fact]
    public void Movements_InvalidInput_RejectedWithReasonAndStateUnchanged()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 2), new DefineBundle("KIT", [new SkuQuantity("A", 1)]));

        pool.Do(Receive("A", "NOWHERE", 1)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldBe("unknown location 'NOWHERE'");
        pool.Do(Receive("A", "S1", -1)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new AdjustStock("A", "S1", -3, "lost")).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new AdjustStock("A", "S1", 1, "")).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new CountStock("A", "S1", -1)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(Receive("KIT", "S1", 1)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new SetSafetyStock("A", "S1", -1)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new ShipTransfer("nope", [])).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new UpsertLocation("BAD", LocationKind.Warehouse, true, "US", null, new GeoPoint(91, 0), [], [], null, 0))
            .ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.State.GetLevel("A", "S1").ShouldBe(new StockLevel(2, 0, 0, 0, 0));
    }
}
