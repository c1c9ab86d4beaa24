using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

public class OrderLifecycleTests
{
    private static readonly ShipTo Us = new("US");
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Backorders_StockArrives_FilledFifoByPriorityThenOrderTime()
    {
        var pool = new PoolHarness().With(Site("S1", "US"));
        pool.Do(Order("late", Us, "web", FulfillmentMode.Merchant, 0, T0.AddMinutes(2), Line("1", "A", 2)));
        pool.Do(Order("early", Us, "web", FulfillmentMode.Merchant, 0, T0.AddMinutes(1), Line("1", "A", 2)));
        pool.Do(Order("vip", Us, "web", FulfillmentMode.Merchant, 5, T0.AddMinutes(3), Line("1", "A", 2)));

        var events = pool.Do(Receive("A", "S1", 4));

        events.OfType<AllocationDecided>().Select(d => d.OrderId).ShouldBe(["vip", "early"]);
        events.OfType<AllocationDecided>().ShouldAllBe(d => d.Backordered.Count == 0 && d.RuleTrail[0].StartsWith("backorder fill", StringComparison.Ordinal));
        pool.State.GetOrder("late")!.Lines[0].Backordered.ShouldBe(2);
    }

    [Fact]
    public void Backorders_SameTimeAndPriority_FilledInOrderIdOrder()
    {
        var pool = new PoolHarness().With(Site("S1", "US"));
        pool.Do(Order("o-b", Us, Line("1", "A", 1)));
        pool.Do(Order("o-a", Us, Line("1", "A", 1)));

        var events = pool.Do(Receive("A", "S1", 1));

        events.OfType<AllocationDecided>().Single().OrderId.ShouldBe("o-a");
    }

    [Fact]
    public void Cancel_AllocatedOrder_ReleasesStockAndFillsWaitingBackorder()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 2));
        pool.Do(Order("o1", Us, Line("1", "A", 2)));
        pool.Do(Order("o2", Us, Line("1", "A", 2)));

        var events = pool.Do(new CancelOrder("o1", "customer changed mind"));

        var released = events.OfType<AllocationReleased>().Single();
        released.Reason.ShouldBe("order cancelled: customer changed mind");
        released.Lines.ShouldBe([new LineAllocation("1", "A", "S1", 2)]);
        events.OfType<AllocationDecided>().Single().OrderId.ShouldBe("o2");
        pool.State.GetOrder("o1").ShouldBeNull();
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(2);
    }

    [Fact]
    public void Update_QuantityRaised_KeepsExistingSiteAndTopsUpThere()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 3), Receive("A", "LAX", 10));
        pool.Do(Order("o1", new ShipTo("US", null, Boston), Line("1", "A", 2)));
        pool.State.GetOrder("o1")!.Lines[0].Allocations.Single().LocationId.ShouldBe("NYC");

        var events = pool.Do(new UpdateOrder("o1", new ShipTo("US", null, Boston), [Line("1", "A", 3)]));

        events.OfType<AllocationReleased>().ShouldBeEmpty();
        events.OfType<AllocationDecided>().Single().Allocations.ShouldBe([new LineAllocation("1", "A", "NYC", 3)]);
    }

    [Fact]
    public void Update_RaisedBeyondHeldSite_MovesWholeOrderToSiteThatShipsAll()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 3), Receive("A", "LAX", 10));
        pool.Do(Order("o1", new ShipTo("US", null, Boston), Line("1", "A", 2)));

        var events = pool.Do(new UpdateOrder("o1", new ShipTo("US", null, Boston), [Line("1", "A", 5)]));

        // Keeping the 2 at NYC and adding 3 at LAX would split the order; LAX can ship all 5.
        events.OfType<AllocationReleased>().Single().Lines.ShouldBe([new LineAllocation("1", "A", "NYC", 2)]);
        events.OfType<AllocationDecided>().Single().Allocations.ShouldBe([new LineAllocation("1", "A", "LAX", 5)]);
        pool.State.GetLevel("A", "NYC")!.Allocated.ShouldBe(0);
    }

    [Fact]
    public void Update_LineRemovedAndShipToMovedAbroad_ReleasesAndReallocatesToServingSite()
    {
        var pool = new PoolHarness().With(
            Site("US1", "US", serves: ["US"]), Site("EU1", "DE", serves: ["DE", "FR"]),
            Receive("A", "US1", 5), Receive("B", "US1", 5), Receive("A", "EU1", 5));
        pool.Do(Order("o1", Us, Line("1", "A", 1), Line("2", "B", 1)));

        var events = pool.Do(new UpdateOrder("o1", new ShipTo("FR"), [Line("1", "A", 1)]));

        events.OfType<AllocationReleased>().Single().Lines.ShouldBe([new LineAllocation("1", "A", "US1", 1), new LineAllocation("2", "B", "US1", 1)]);
        events.OfType<AllocationDecided>().Single().Allocations.ShouldBe([new LineAllocation("1", "A", "EU1", 1)]);
        pool.State.GetLevel("A", "US1")!.Allocated.ShouldBe(0);
        pool.State.GetLevel("B", "US1")!.Allocated.ShouldBe(0);
    }

    [Fact]
    public void Update_ReducesBelowShipped_IsRejectedAndStateUnchanged()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 5));
        pool.Do(Order("o1", Us, Line("1", "A", 3)));
        pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 2)]));

        var events = pool.Do(new UpdateOrder("o1", Us, [Line("1", "A", 1)]));

        events.ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldContain("already shipped 2");
        pool.State.GetOrder("o1")!.Lines[0].Quantity.ShouldBe(3);
    }

    [Fact]
    public void Shipment_FromAllocatedSite_DeductsExactlyWhatShipped()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 5));
        pool.Do(Order("o1", Us, Line("1", "A", 3)));

        var events = pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 2)]));

        events.OfType<ShipmentRecorded>().Single().Lines.ShouldBe([new LineAllocation("1", "A", "S1", 2)]);
        events.OfType<StockMoved>().Single().ShouldBe(new StockMoved("A", "S1", MovementKind.Shipment, -2, 3, "sh1", null, pool.Now.AddSeconds(-1)));
        pool.State.GetLevel("A", "S1").ShouldBe(new StockLevel(3, 1, 0, 0, 0));
    }

    [Fact]
    public void Shipment_OfBundle_DeductsComponents()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]),
            Receive("A", "S1", 5), Receive("B", "S1", 5));
        pool.Do(Order("o1", Us, Line("1", "KIT", 2)));

        pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 2)]));

        pool.State.GetLevel("A", "S1").ShouldBe(new StockLevel(3, 0, 0, 0, 0));
        pool.State.GetLevel("B", "S1").ShouldBe(new StockLevel(1, 0, 0, 0, 0));
        pool.State.GetOrder("o1").ShouldBeNull();
    }

    [Fact]
    public void Shipment_FromAnotherSite_IsRejectedWithReason()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Site("S2", "US"), Receive("A", "S1", 5), Receive("A", "S2", 1));
        pool.Do(Order("o1", Us, Line("1", "A", 3)));

        var events = pool.Do(new ConfirmShipment("o1", "sh1", "S2", [new ShippedLine("1", 1)]));

        events.ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldBe("line 1 is not allocated at S2 (allocated at: S1 ×3)");
        pool.State.GetLevel("A", "S2")!.OnHand.ShouldBe(1);
    }

    [Fact]
    public void Shipment_MoreThanAllocatedOrDuplicate_IsRejected()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 5));
        pool.Do(Order("o1", Us, Line("1", "A", 3)));

        pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 4)]))
            .ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldContain("only 3 allocated");
        pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 1)])).OfType<ShipmentRecorded>().ShouldHaveSingleItem();
        pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 1)]))
            .ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldContain("already recorded");
    }

    [Fact]
    public void Place_InvalidOrders_AreRejectedNotThrown()
    {
        var pool = new PoolHarness().With(Site("S1", "US"));

        pool.Do(Order("o1", Us, Line("1", "A", -1))).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(Order("o1", Us, Line("1", "A", 1), Line("1", "B", 1))).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(Order("o1", Us)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new PlaceOrder("o1", "web", FulfillmentMode.Merchant, 0, T0, null!, [Line("1", "A", 1)])).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(new CancelOrder("nope", "")).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.Do(null!).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();
        pool.State.OrderCount.ShouldBe(0);
    }

    [Fact]
    public void Place_SameOrderIdTwice_SecondIsRejected()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 5));
        pool.Do(Order("o1", Us, Line("1", "A", 1)));

        pool.Do(Order("o1", Us, Line("1", "A", 1))).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();

        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(1);
    }
}
