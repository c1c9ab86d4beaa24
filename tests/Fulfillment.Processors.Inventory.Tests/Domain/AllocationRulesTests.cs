using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

public class AllocationRulesTests
{
    private static readonly ShipTo BostonCustomer = new("US", "MA", Boston);

    private static AllocationDecided Decided(IReadOnlyList<InventoryEvent> events) =>
        events.OfType<AllocationDecided>().Single();

    private static string[] Sites(AllocationDecided decided) =>
        decided.Allocations.Select(a => a.LocationId).Distinct().Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Allocate_OneSiteHoldsEverything_DoesNotSplitEvenIfAnotherSiteIsNearer()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5), Receive("B", "NYC", 1),
            Receive("A", "LAX", 5), Receive("B", "LAX", 5));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 2), Line("2", "B", 2))));

        Sites(decided).ShouldBe(["LAX"]);
        decided.Backordered.ShouldBeEmpty();
        decided.RuleTrail.ShouldContain(s => s.Contains("LAX is the only eligible location that can ship all", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_NoSingleSiteCanShip_SplitsAcrossFewestSites()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago), Site("S3", "US", LosAngeles),
            Receive("A", "S1", 1), Receive("B", "S1", 1),
            Receive("A", "S2", 4),
            Receive("B", "S3", 4));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 4), Line("2", "B", 4))));

        // S1 is nearest but holding only 2 units it would force a third site; the greedy cover takes S2 + S3.
        Sites(decided).ShouldBe(["S2", "S3"]);
        decided.Allocations.Sum(a => a.Quantity).ShouldBe(8);
        decided.RuleTrail.ShouldContain(s => s.Contains("split across 2 locations", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_SplitNotAllowed_AllocatesAtOneSiteAndBackordersTheRest()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            new SetRoutingRules("web", ChannelConfigDefaults, AllowSplit: false, []),
            Receive("A", "S1", 3), Receive("A", "S2", 2));

        var events = pool.Do(Order("o1", BostonCustomer, Line("1", "A", 5)));

        var decided = Decided(events);
        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        decided.Backordered.ShouldBe([new LineBackorder("1", "A", 2)]);
        events.OfType<OrderBackordered>().Single().Reason.ShouldContain("splits are not allowed");
    }

    [Fact]
    public void Allocate_ChannelRankingBeforeProximity_PrefersRankedSiteOverNearerOne()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            new SetRoutingRules("web", [RoutingRule.MinimiseSplits, RoutingRule.ChannelRanking, RoutingRule.Proximity], true, ["LAX", "NYC"]),
            Receive("A", "NYC", 5), Receive("A", "LAX", 5));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 1))));

        Sites(decided).ShouldBe(["LAX"]);
        decided.RuleTrail.ShouldContain("channel ranking: LAX #1, NYC #2");
        decided.RuleTrail.ShouldContain(s => s.Contains("chosen over NYC by channel ranking", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_ProximityRule_ChoosesNearestSite()
    {
        var pool = new PoolHarness().With(
            Site("LAX", "US", LosAngeles), Site("CHI", "US", Chicago), Site("NYC", "US", NewYork),
            Receive("A", "LAX", 5), Receive("A", "CHI", 5), Receive("A", "NYC", 5));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 1))));

        Sites(decided).ShouldBe(["NYC"]);
        decided.RuleTrail.ShouldContain(s => s.StartsWith("proximity: ", StringComparison.Ordinal) && s.Contains("NYC 306 km", StringComparison.Ordinal));
        decided.RuleTrail.ShouldContain(s => s.Contains("chosen over CHI by proximity", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_NoCoordinates_FallsBackToRegionThenCountry()
    {
        var pool = new PoolHarness().With(
            Site("DE1", "DE"), Site("US-NY", "US", region: "NY"), Site("US-MA", "US", region: "MA"),
            Receive("A", "DE1", 5), Receive("A", "US-NY", 5), Receive("A", "US-MA", 5));

        var decided = Decided(pool.Do(Order("o1", new ShipTo("US", "MA"), Line("1", "A", 1))));

        Sites(decided).ShouldBe(["US-MA"]);
        decided.RuleTrail.ShouldContain("proximity: US-MA same region, US-NY same country, DE1 other country");
    }

    [Fact]
    public void Allocate_StockBalance_PrefersSiteWithMostFreeStockWhenOtherRulesTie()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Site("S2", "US"),
            Receive("A", "S1", 5), Receive("A", "S2", 9));

        var decided = Decided(pool.Do(Order("o1", new ShipTo("US"), Line("1", "A", 1))));

        Sites(decided).ShouldBe(["S2"]);
        decided.RuleTrail.ShouldContain(s => s.Contains("chosen over S1 by stock balance", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_AllRulesTie_BreaksTieByLocationId()
    {
        var pool = new PoolHarness().With(
            Site("S2", "US"), Site("S1", "US"),
            Receive("A", "S1", 5), Receive("A", "S2", 5));

        var decided = Decided(pool.Do(Order("o1", new ShipTo("US"), Line("1", "A", 1))));

        Sites(decided).ShouldBe(["S1"]);
        decided.RuleTrail.ShouldContain(s => s.Contains("by location id tiebreak", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_AfnOrderAndFbaShort_BackordersAndNeverUsesOwnSites()
    {
        var pool = new PoolHarness().With(
            Site("FBA-US", "US", kind: LocationKind.AmazonFba), Site("NYC", "US", NewYork),
            Receive("A", "FBA-US", 1), Receive("A", "NYC", 100));

        var events = pool.Do(Order("a1", BostonCustomer, "amazon", FulfillmentMode.Amazon, 0, null, Line("1", "A", 3)));

        var decided = Decided(events);
        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "FBA-US", 1)]);
        decided.Backordered.ShouldBe([new LineBackorder("1", "A", 2)]);
        events.OfType<OrderBackordered>().Single().Reason.ShouldContain("never allocated to own sites");
        decided.RuleTrail.ShouldContain(s => s.Contains("NYC (own site; AFN orders ship from FBA only)", StringComparison.Ordinal));
        pool.State.GetLevel("A", "NYC")!.Allocated.ShouldBe(0);
    }

    [Fact]
    public void Allocate_MerchantOrder_NeverUsesFbaStock()
    {
        var pool = new PoolHarness().With(
            Site("FBA-US", "US", kind: LocationKind.AmazonFba), Site("NYC", "US", NewYork),
            Receive("A", "FBA-US", 100));

        var decided = Decided(pool.Do(Order("m1", BostonCustomer, "amazon", FulfillmentMode.Merchant, 0, null, Line("1", "A", 1))));

        decided.Allocations.ShouldBeEmpty();
        decided.Backordered.ShouldBe([new LineBackorder("1", "A", 1)]);
    }

    [Fact]
    public void Allocate_BundleLineAndComponentLineShareStock_ComponentsAreSummed()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"),
            new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]),
            Receive("A", "S1", 3), Receive("B", "S1", 10));

        // 2 kits need 2 A and the single line needs 2 A: 4 A against 3 on hand (medusa#16502).
        var decided = Decided(pool.Do(Order("o1", new ShipTo("US"), Line("1", "KIT", 2), Line("2", "A", 2))));

        decided.Allocations.ShouldBe([new LineAllocation("1", "KIT", "S1", 2), new LineAllocation("2", "A", "S1", 1)]);
        decided.Backordered.ShouldBe([new LineBackorder("2", "A", 1)]);
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(3);
        pool.State.GetLevel("B", "S1")!.Allocated.ShouldBe(4);
    }

    [Fact]
    public void Allocate_ChannelMapping_ExcludesUnmappedSites()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            new SetChannelLocations("ebay", ["LAX"]),
            Receive("A", "NYC", 5), Receive("A", "LAX", 5));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, "ebay", FulfillmentMode.Merchant, 0, null, Line("1", "A", 1))));

        Sites(decided).ShouldBe(["LAX"]);
        decided.RuleTrail.ShouldContain(s => s.Contains("NYC (not mapped to the channel)", StringComparison.Ordinal));
    }

    [Fact]
    public void Allocate_SiteDoesNotServeCountryOrIsInactiveOrTooLight_IsExcluded()
    {
        var pool = new PoolHarness().With(
            Site("EU", "DE", Berlin, serves: ["DE", "FR"]), Site("OFF", "US", NewYork, active: false),
            Site("SMALL", "US", Chicago, maxWeightGrams: 1000), Site("BIG", "US", LosAngeles),
            Receive("A", "EU", 5), Receive("A", "OFF", 5), Receive("A", "SMALL", 5), Receive("A", "BIG", 5));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, new OrderLineRequest("1", "A", 2, WeightGrams: 800))));

        Sites(decided).ShouldBe(["BIG"]);
        decided.RuleTrail[1].ShouldBe("eligible: BIG; excluded: EU (does not serve the destination), OFF (inactive), SMALL (order over the weight limit)");
    }

    [Fact]
    public void Allocate_SafetyStock_IsNotAllocated()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 5), new SetSafetyStock("A", "S1", 2));

        var decided = Decided(pool.Do(Order("o1", new ShipTo("US"), Line("1", "A", 5))));

        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        pool.State.GetLevel("A", "S1")!.Available.ShouldBe(0);
    }

    [Fact]
    public void Allocate_OversellAllowedByPool_AllocatesBeyondStock()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 1), new ConfigurePool(AllowOversell: true));

        var decided = Decided(pool.Do(Order("o1", new ShipTo("US"), Line("1", "A", 3))));

        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        decided.Backordered.ShouldBeEmpty();
        pool.State.GetLevel("A", "S1")!.Net.ShouldBe(-2);
    }

    [Fact]
    public void Allocate_OversellNotConfigured_NeverAllocatesBeyondStock()
    {
        var pool = new PoolHarness().With(Site("S1", "US"), Receive("A", "S1", 1));

        var decided = Decided(pool.Do(Order("o1", new ShipTo("US"), Line("1", "A", 3))));

        decided.Allocations.Sum(a => a.Quantity).ShouldBe(1);
        pool.State.GetLevel("A", "S1")!.Net.ShouldBe(0);
    }

    private static readonly RoutingRule[] ChannelConfigDefaults =
        [RoutingRule.MinimiseSplits, RoutingRule.ChannelRanking, RoutingRule.Proximity, RoutingRule.StockBalance];
}
