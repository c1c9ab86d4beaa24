using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

/// <summary>Per-shop channel mapping and routing: a shop's own settings override its channel's, per aspect.</summary>
public class ShopRoutingTests
{
    private static readonly ShipTo BostonCustomer = new("US", "MA", Boston);

    private static readonly RoutingRule[] Defaults =
        [RoutingRule.MinimiseSplits, RoutingRule.ChannelRanking, RoutingRule.Proximity, RoutingRule.StockBalance];

    private static PlaceOrder ShopOrder(string id, string? shop, params OrderLineRequest[] lines) =>
        Order(id, BostonCustomer, "shopify", FulfillmentMode.Merchant, 0, null, lines) with { ShopId = shop };

    private static string AllocatedAt(PoolHarness pool, string orderId) =>
        pool.State.GetOrder(orderId)!.Lines.SelectMany(l => l.Allocations).Select(a => a.LocationId).Distinct().Single();

    private static PoolHarness TwoSites(params InventoryCommand[] more) =>
        new PoolHarness().With([
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 10), Receive("A", "LAX", 10),
            .. more]);

    [Fact]
    public void SetChannelLocations_ShopMapping_OverridesChannelForThatShopOnly()
    {
        var pool = TwoSites(
            new SetChannelLocations("shopify", ["NYC"]),
            new SetChannelLocations("shopify", ["LAX"], ShopId: "west.myshopify.com"));

        pool.Do(ShopOrder("o1", "east.myshopify.com", Line("1", "A", 1)));
        pool.Do(ShopOrder("o2", "west.myshopify.com", Line("1", "A", 1)));
        pool.Do(ShopOrder("o3", null, Line("1", "A", 1)));

        AllocatedAt(pool, "o1").ShouldBe("NYC", "a shop without settings of its own sells under the channel's");
        AllocatedAt(pool, "o2").ShouldBe("LAX");
        AllocatedAt(pool, "o3").ShouldBe("NYC");
        pool.State.GetOrder("o2")!.ShopId.ShouldBe("west.myshopify.com");
    }

    [Fact]
    public void SetRoutingRules_ShopRules_OverrideChannelRulesButInheritItsMapping()
    {
        var pool = TwoSites(
            Site("CHI", "US", Chicago), Receive("A", "CHI", 10),
            new SetChannelLocations("shopify", ["NYC", "LAX"]),
            new SetRoutingRules("shopify", Defaults, true, [], ShopId: "west", ExcludedLocations: ["NYC"]));

        var west = pool.Do(ShopOrder("o1", "west", Line("1", "A", 1)));
        var east = pool.Do(ShopOrder("o2", "east", Line("1", "A", 1)));

        AllocatedAt(pool, "o1").ShouldBe("LAX", "NYC excluded for the shop, CHI not mapped to its channel");
        west.OfType<AllocationDecided>().Single().RuleTrail[0].ShouldContain("channel shopify shop west,");
        west.OfType<AllocationDecided>().Single().RuleTrail.ShouldContain("eligible: LAX; excluded: NYC (excluded by routing rule), CHI (not mapped to the channel)");
        AllocatedAt(pool, "o2").ShouldBe("NYC");
        east.OfType<AllocationDecided>().Single().RuleTrail[0].ShouldContain("channel shopify shop east (channel-wide settings),");
    }

    [Fact]
    public void SetChannelLocations_ChannelChangedAfterShopRules_ShopFollowsTheChannelsMapping()
    {
        var pool = TwoSites(
            new SetRoutingRules("shopify", Defaults, true, [], ShopId: "west", RequireFullAvailability: true),
            new SetChannelLocations("shopify", ["LAX"]));

        pool.Do(ShopOrder("o1", "west", Line("1", "A", 1)));

        AllocatedAt(pool, "o1").ShouldBe("LAX", "the shop has rules of its own but not a mapping: the channel's applies, as it is now");
    }

    [Fact]
    public void SetChannelLocations_ShopMappingCleared_ShopFallsBackToChannelMapping()
    {
        var pool = TwoSites(
            new SetChannelLocations("shopify", ["NYC"]),
            new SetChannelLocations("shopify", ["LAX"], ShopId: "west"),
            new SetChannelLocations("shopify", null, ShopId: "west"));

        pool.Do(ShopOrder("o1", "west", Line("1", "A", 1)));

        AllocatedAt(pool, "o1").ShouldBe("NYC");
        pool.State.GetChannelAvailable("shopify", "A", "west").ShouldBe(9);
    }

    [Fact]
    public void StockLevel_ShopWithOwnMapping_ReportsChannelAndShopFiguresTogether()
    {
        var pool = TwoSites(
            new SetChannelLocations("shopify", ["NYC", "LAX"]),
            new SetChannelLocations("shopify", ["LAX"], ShopId: "west"));

        var events = pool.Do(Receive("A", "NYC", 5));

        // NYC does not serve the shop, but its figure goes with the channel's so a sync never gives it the channel-wide one.
        events.OfType<StockLevelChanged>().Single().ChannelAvailable.ShouldBe(
            [new ChannelAvailability("shopify", 25), new ChannelAvailability("shopify", 10, "west")]);
        pool.State.GetChannelAvailable("shopify", "A").ShouldBe(25);
        pool.State.GetChannelAvailable("shopify", "A", "west").ShouldBe(10);
        pool.State.GetChannelAvailable("shopify", "A", "unknown-shop").ShouldBe(25);
    }

    [Fact]
    public void SetChannelLocations_ShopConfiguredAfterOrderPlaced_BackorderFilledUnderShopSettings()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "LAX", 10),
            new SetChannelLocations("shopify", ["NYC"]),
            ShopOrder("o1", "west", Line("1", "A", 2)));
        pool.State.GetOrder("o1")!.Lines.Single().Backordered.ShouldBe(2);

        var events = pool.Do(new SetChannelLocations("shopify", ["LAX"], ShopId: "west"));

        events.OfType<AllocationDecided>().Single().Allocations.ShouldBe([new LineAllocation("1", "A", "LAX", 2)]);
    }

    [Fact]
    public void SetRoutingRules_ShopWithUnknownLocation_IsRejectedWithShopInReference()
    {
        var pool = TwoSites();

        var rejected = pool.Do(new SetRoutingRules("shopify", Defaults, true, ["NOPE"], ShopId: "west")).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>();

        rejected.Reference.ShouldBe("shopify/west");
        pool.State.GetChannelAvailable("shopify", "A", "west").ShouldBe(20);
    }

    [Fact]
    public void PlaceOrder_EmptyShopId_IsTheChannelWideOrder()
    {
        var pool = TwoSites(new SetChannelLocations("shopify", ["LAX"], ShopId: ""));

        pool.Do(ShopOrder("o1", "", Line("1", "A", 1)));

        AllocatedAt(pool, "o1").ShouldBe("LAX");
        pool.State.GetOrder("o1")!.ShopId.ShouldBeNull();
    }
}
