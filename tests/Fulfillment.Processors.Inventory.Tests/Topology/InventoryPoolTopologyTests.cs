using Fulfillment.Processors.Runtime;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Stock;
using static Fulfillment.Processors.Inventory.Tests.Topology.AvroEvents;
using AvroAllocationDecided = Fulfillment.Schemas.Allocations.AllocationDecided;
using AvroStockLevelChanged = Fulfillment.Schemas.Stock.StockLevelChanged;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

public sealed class InventoryPoolTopologyTests : IDisposable
{
    private static readonly InventoryPoolTopics Topics = InventoryPoolTopics.Catalog;
    private readonly InventoryPoolTopology _pool = InventoryPoolTopology.Build(Topics, InventoryPoolSerdes.Create(Topics, _ => 7));
    private readonly TopologyTestDriver _driver;

    public InventoryPoolTopologyTests() => _driver = new TopologyTestDriver(_pool.Topology, partitions: 3, startTime: new DateTimeOffset(T0));

    public void Dispose() => _driver.Dispose();

    private void Setup(string pool)
    {
        _driver.Pipe(_pool.OperatorCommands, pool, Location(pool, "NYC", 40.71, -74.0));
        _driver.Pipe(_pool.OperatorCommands, pool, Location(pool, "LAX", 34.05, -118.24));
        _driver.Pipe(_pool.OperatorCommands, pool, Receipt(pool, "r1", "NYC", ("A", 5), ("B", 5)));
        _driver.Pipe(_pool.OperatorCommands, pool, Receipt(pool, "r2", "LAX", ("A", 5)));
        _driver.ReadOutput(_pool.StockLevels);
    }

    [Fact]
    public void OrderPlaced_AllocatesAtNearestSiteAndPublishesDecisionAndLevels()
    {
        Setup("merchant-1");

        _driver.Pipe(_pool.Orders, "merchant-1", Placed("merchant-1", "o1", 42.36, -71.06, ("A", 2), ("B", 1)));

        var decided = _driver.ReadOutput(_pool.Allocations).ShouldHaveSingleItem();
        decided.Key.ShouldBe("merchant-1");
        decided.Value.metadata.event_id.ShouldBe("placed-o1/0");
        decided.Value.metadata.correlation_id.ShouldBe("o1");
        var body = decided.Value.body.ShouldBeOfType<AvroAllocationDecided>();
        body.lines.Select(l => (l.line_id, l.sku, l.location_id, l.quantity)).ShouldBe([("1", "A", "NYC", 2), ("2", "B", "NYC", 1)]);
        body.rule_trail.ShouldContain(s => s.StartsWith("proximity: NYC", StringComparison.Ordinal));
        var levels = _driver.ReadOutput(_pool.StockLevels).Select(r => r.Value.body).Cast<AvroStockLevelChanged>().ToList();
        levels.Select(l => (l.sku, l.location_id, l.on_hand, l.allocated, l.available)).ShouldBe([("A", "NYC", 5, 2, 3), ("B", "NYC", 5, 1, 4)]);
    }

    [Fact]
    public void ShopRoutingExcludingASite_OrdersOfThatShopAvoidItAndOtherShopsDoNot()
    {
        Setup("m");
        _driver.Pipe(_pool.OperatorCommands, "m", new Fulfillment.Schemas.Operator.OperatorCommand
        {
            metadata = Metadata("routing-shop", "m", "routing-shop"),
            body = new Fulfillment.Schemas.Operator.RoutingRulesSet
            {
                channel = Fulfillment.Schemas.Common.Channel.Shopify,
                shop_id = "shop",
                allow_split = true,
                rules =
                [
                    new Fulfillment.Schemas.Operator.RoutingRule { kind = Fulfillment.Schemas.Operator.RoutingRuleKind.ExcludeLocations, location_ids = ["NYC"], parameters = new Dictionary<string, string>() },
                    new Fulfillment.Schemas.Operator.RoutingRule { kind = Fulfillment.Schemas.Operator.RoutingRuleKind.ClosestLocation, location_ids = [], parameters = new Dictionary<string, string>() },
                ],
            },
        });
        _driver.ReadOutput(_pool.StockLevels);
        _driver.ReadOutput(_pool.DeadLetters).ShouldBeEmpty();

        // Boston: NYC is nearest, but this shop's routing excludes it.
        _driver.Pipe(_pool.Orders, "m", Placed("m", "o1", 42.36, -71.06, ("A", 1)));
        var other = Placed("m", "o2", 42.36, -71.06, ("A", 1));
        ((Fulfillment.Schemas.Orders.OrderPlaced)other.body).order.shop_id = "other-shop";
        _driver.Pipe(_pool.Orders, "m", other);

        var decided = _driver.ReadOutput(_pool.Allocations).Select(r => r.Value.body).Cast<AvroAllocationDecided>().ToList();
        decided.Select(d => (d.order_id, d.lines.Single().location_id)).ShouldBe([("o1", "LAX"), ("o2", "NYC")]);
    }

    [Fact]
    public void OrderShortCancelledAndShipped_PublishesBackorderReleaseAndDeduction()
    {
        Setup("m");
        _driver.Pipe(_pool.Orders, "m", Placed("m", "big", 42.36, -71.06, ("A", 12)));
        _driver.ReadOutput(_pool.Allocations).Select(r => r.Value.body.GetType().Name).ShouldBe(["AllocationDecided", "OrderBackordered"]);

        _driver.Pipe(_pool.Orders, "m", Cancelled("m", "big"));
        var released = _driver.ReadOutput(_pool.Allocations).ShouldHaveSingleItem().Value.body.ShouldBeOfType<AllocationReleased>();
        released.reason.ShouldBe(ReleaseReason.OrderCancelled);
        released.lines.Sum(l => l.quantity).ShouldBe(10);

        _driver.Pipe(_pool.Orders, "m", Placed("m", "o2", 42.36, -71.06, ("A", 2)));
        _driver.Pipe(_pool.Shipments, "m", Shipped("m", "o2", "s1", "NYC", ("1", 2)));
        var last = _driver.ReadOutput(_pool.StockLevels).Last().Value.body.ShouldBeOfType<AvroStockLevelChanged>();
        (last.sku, last.location_id, last.on_hand, last.allocated).ShouldBe(("A", "NYC", 3, 0));
    }

    [Fact]
    public void UpdateBeforePlaced_PlacesTheOrder()
    {
        Setup("m");

        _driver.Pipe(_pool.Orders, "m", Updated("m", "o1", 34.0, -118.0, ("A", 1)));

        _driver.ReadOutput(_pool.Allocations).ShouldHaveSingleItem().Value.body.ShouldBeOfType<AvroAllocationDecided>()
            .lines.ShouldHaveSingleItem().location_id.ShouldBe("LAX");
    }

    [Fact]
    public void ThirdPartySnapshot_PublishesDrift()
    {
        Setup("m");

        _driver.Pipe(_pool.StockMovements, "m", Snapshot("m", "snap-1", "LAX", ("A", 3)));

        var drift = _driver.ReadOutput(_pool.StockLevels).Select(r => r.Value.body).OfType<DriftDetected>().ShouldHaveSingleItem();
        (drift.sku, drift.location_id, drift.expected_on_hand, drift.reported_on_hand, drift.drift).ShouldBe(("A", "LAX", 5, 3, -2));
    }

    [Fact]
    public void RejectedCommand_GoesToDeadLettersWithReason()
    {
        Setup("m");

        _driver.Pipe(_pool.Shipments, "m", Shipped("m", "nope", "s1", "NYC", ("1", 1)));

        var dead = _driver.ReadOutput(_pool.DeadLetters).ShouldHaveSingleItem().Value;
        dead.reason.ShouldContain("unknown order");
        dead.source_topic.ShouldBe(Topics.Shipments);
    }

    [Fact]
    public void CachedStateLost_IsRebuiltFromTheCommandLogWithTheSameDecisions()
    {
        Setup("m");
        _driver.Pipe(_pool.Orders, "m", Placed("m", "o1", 42.36, -71.06, ("A", 4)));
        _driver.ReadOutput(_pool.Allocations);
        _driver.ReadOutput(_pool.StockLevels);

        _pool.ForgetCachedState();
        _driver.Pipe(_pool.Orders, "m", Placed("m", "o2", 42.36, -71.06, ("A", 2)));

        // NYC has 1 left after o1's 4; a rebuilt state must know that and send o2 to LAX.
        _driver.ReadOutput(_pool.Allocations).ShouldHaveSingleItem().Value.body.ShouldBeOfType<AvroAllocationDecided>()
            .lines.ShouldHaveSingleItem().location_id.ShouldBe("LAX");
        _driver.ReadStore(_pool.Sequence).ShouldContain(new KeyValuePair<string, long>("m", 6));
    }

    [Fact]
    public void Pools_AreIndependent()
    {
        Setup("m1");
        Setup("m2");

        _driver.Pipe(_pool.Orders, "m1", Placed("m1", "o1", 42.36, -71.06, ("A", 5)));
        _driver.Pipe(_pool.Orders, "m2", Placed("m2", "o1", 42.36, -71.06, ("A", 5)));

        _driver.ReadOutput(_pool.Allocations).Select(r => (r.Key, r.Value.body.ShouldBeOfType<AvroAllocationDecided>().lines.Single().location_id))
            .ShouldBe([("m1", "NYC"), ("m2", "NYC")]);
    }
}
