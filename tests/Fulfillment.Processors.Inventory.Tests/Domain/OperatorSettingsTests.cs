using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

/// <summary>Operator changes at runtime: bundles, channel → location mapping, pool settings.</summary>
public class OperatorSettingsTests
{
    private static readonly ShipTo BostonCustomer = new("US", "MA", Boston);

    private static AllocationDecided Decided(IReadOnlyList<InventoryEvent> events) => events.OfType<AllocationDecided>().Single();

    [Fact]
    public void RemoveBundle_OpenOrderKeepsItsComponents_NewOrderTreatsTheSkuAsPlain()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Receive("A", "S1", 10), Receive("B", "S1", 10),
            new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]),
            Order("o1", BostonCustomer, Line("1", "KIT", 2)));

        pool.Do(new RemoveBundle("KIT")).ShouldNotContain(e => e is CommandRejected);
        var placed = pool.Do(Order("o2", BostonCustomer, Line("1", "KIT", 1)));
        var shipped = pool.Do(new ConfirmShipment("o1", "sh1", "S1", [new ShippedLine("1", 2)]));

        Decided(placed).Backordered.ShouldBe([new LineBackorder("1", "KIT", 1)]);
        pool.State.GetOrder("o2")!.Lines.Single().Components.ShouldBe([new SkuQuantity("KIT", 1)]);
        shipped.OfType<StockMoved>().Select(m => (m.Sku, m.Delta)).ShouldBe([("A", -2), ("B", -4)]);
        pool.State.GetLevel("B", "S1")!.ShouldBe(new StockLevel(6, 0, 0, 0, 0));
    }

    [Fact]
    public void RemoveBundle_SkuIsNotABundle_IsRejected()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 1));

        pool.Do(new RemoveBundle("A")).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldBe("not a bundle");
    }

    [Fact]
    public void DefineBundle_Redefined_NewOrdersConsumeTheNewComponents()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Receive("A", "S1", 5), Receive("B", "S1", 5),
            new DefineBundle("KIT", [new SkuQuantity("A", 1)]),
            Order("o1", BostonCustomer, Line("1", "KIT", 1)),
            new DefineBundle("KIT", [new SkuQuantity("B", 3)]));

        pool.Do(Order("o2", BostonCustomer, Line("1", "KIT", 1)));

        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(1);
        pool.State.GetLevel("B", "S1")!.Allocated.ShouldBe(3);
        pool.State.GetChannelAvailable("web", "KIT").ShouldBe(0, "2 B left, 3 per kit");
    }

    [Fact]
    public void SetChannelLocations_MappingCleared_ChannelMayUseEveryLocationAgain()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5), Receive("A", "LAX", 5),
            new SetChannelLocations("web", ["LAX"]));

        var mapped = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 1))));
        pool.Do(new SetChannelLocations("web", null)).ShouldNotContain(e => e is CommandRejected);
        var cleared = Decided(pool.Do(Order("o2", BostonCustomer, Line("1", "A", 1))));

        mapped.Allocations.Single().LocationId.ShouldBe("LAX");
        cleared.Allocations.Single().LocationId.ShouldBe("NYC", "nearest, once every location may serve the channel");
        pool.State.GetChannelAvailable("web", "A").ShouldBe(8);
    }

    [Fact]
    public void SetChannelLocations_EmptyList_NoLocationServesTheChannel()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 5), new SetChannelLocations("web", []));

        var events = pool.Do(Order("o1", BostonCustomer, Line("1", "A", 1)));

        events.OfType<OrderBackordered>().Single().Reason.ShouldBe("no eligible location");
        pool.State.GetChannelAvailable("web", "A").ShouldBe(0);
    }

    [Fact]
    public void ConfigurePool_SplitDefaultOff_ChannelWithoutRulesDoesNotSplitUntilItsRulesAllowIt()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            Receive("A", "S1", 3), Receive("A", "S2", 3),
            new ConfigurePool(AllowOversell: false, AllowSplit: false));

        var placed = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 5))));
        var ruled = pool.Do(new SetRoutingRules("web", [RoutingRule.MinimiseSplits, RoutingRule.Proximity], AllowSplit: true, []));

        placed.Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        placed.Backordered.ShouldBe([new LineBackorder("1", "A", 2)]);
        Decided(ruled).Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3), new LineAllocation("1", "A", "S2", 2)]);
    }

    [Fact]
    public void ConfigurePool_ShipComplete_ShortOrderHoldsNothingUntilStockCompletesIt()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Receive("A", "S1", 3), Receive("B", "S1", 1),
            new ConfigurePool(AllowOversell: false, Backorders: BackorderPolicy.ShipComplete));

        var placed = pool.Do(Order("o1", BostonCustomer, Line("1", "A", 5), Line("2", "B", 1)));
        var level = pool.State.GetLevel("A", "S1");
        var received = pool.Do(Receive("A", "S1", 2));

        Decided(placed).Allocations.ShouldBeEmpty();
        placed.OfType<OrderBackordered>().Single().Lines.ShouldBe([new LineBackorder("1", "A", 5), new LineBackorder("2", "B", 1)]);
        placed.OfType<StockLevelChanged>().ShouldBeEmpty("an undone allocation pass reports no level change");
        level.ShouldBe(new StockLevel(3, 0, 0, 0, 0));
        Decided(received).Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 5), new LineAllocation("2", "B", "S1", 1)]);
    }

    [Fact]
    public void ConfigurePool_ShipCompleteAndStockLost_ReleasesTheWholeOrderSoAnotherCanComplete()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Receive("A", "S1", 4), Receive("B", "S1", 1),
            new ConfigurePool(AllowOversell: false, Backorders: BackorderPolicy.ShipComplete),
            Order("o1", BostonCustomer, "web", FulfillmentMode.Merchant, 1, null, Line("1", "A", 2), Line("2", "B", 1)),
            Order("o2", BostonCustomer, Line("1", "A", 3)));
        pool.State.GetOrder("o2")!.Lines.Single().Backordered.ShouldBe(3);

        var events = pool.Do(new AdjustStock("B", "S1", -1, "damaged"));

        events.OfType<AllocationReleased>().Where(r => r.OrderId == "o1").SelectMany(r => r.Lines).Select(l => (l.Sku, l.Quantity))
            .ShouldBe([("B", 1), ("A", 2)], ignoreOrder: true);
        events.OfType<AllocationDecided>().Single(d => d.OrderId == "o2").Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        pool.State.GetOrder("o1")!.Lines.ShouldAllBe(l => l.Allocations.Count == 0);
        pool.State.GetLevel("A", "S1")!.ShouldBe(new StockLevel(4, 3, 0, 0, 0));
    }

    [Fact]
    public void ConfigurePool_SwitchToShipComplete_ReleasesPartialAllocationsAtOnce()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 3), Order("o1", BostonCustomer, Line("1", "A", 5)));
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(3);

        var events = pool.Do(new ConfigurePool(AllowOversell: false, Backorders: BackorderPolicy.ShipComplete));

        events.OfType<AllocationReleased>().Single().Lines.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(0);
        pool.State.GetOrder("o1")!.Lines.Single().Backordered.ShouldBe(5);
    }

    [Fact]
    public void ConfigurePool_OversellTurnedOn_AllocatesBackordersBeyondStock()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 1), Order("o1", BostonCustomer, Line("1", "A", 3)));

        var events = pool.Do(new ConfigurePool(AllowOversell: true));

        Decided(events).Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        pool.State.GetLevel("A", "S1")!.Net.ShouldBe(-2);
    }

    [Fact]
    public void ConfigurePool_UnknownBackorderPolicy_IsRejected()
    {
        var pool = new PoolHarness().With(Site("S1", "US"));

        pool.Do(new ConfigurePool(false, true, (BackorderPolicy)7)).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>()
            .Reason.ShouldBe("unknown backorder policy 7");
    }
}
