using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

/// <summary>The ExcludeLocations and RequireFullAvailability rules of a channel's routing.</summary>
public class RoutingRuleTests
{
    private static readonly ShipTo BostonCustomer = new("US", "MA", Boston);

    private static readonly RoutingRule[] Defaults =
        [RoutingRule.MinimiseSplits, RoutingRule.ChannelRanking, RoutingRule.Proximity, RoutingRule.StockBalance];

    private static AllocationDecided Decided(IReadOnlyList<InventoryEvent> events) =>
        events.OfType<AllocationDecided>().Single();

    private static SetRoutingRules Exclude(string channel, params string[] locations) =>
        new(channel, Defaults, AllowSplit: true, [], ExcludedLocations: locations);

    private static SetRoutingRules RequireFull(string channel, bool allowSplit = true) =>
        new(channel, Defaults, allowSplit, [], RequireFullAvailability: true);

    [Fact]
    public void ExcludeLocations_NearestSiteExcluded_AllocatesElsewhereAndSaysWhy()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5), Receive("A", "LAX", 5),
            Exclude("web", "NYC"));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 2))));

        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "LAX", 2)]);
        decided.RuleTrail.ShouldContain("eligible: LAX; excluded: NYC (excluded by routing rule)");
        pool.State.GetLevel("A", "NYC")!.Allocated.ShouldBe(0);
    }

    [Fact]
    public void ExcludeLocations_OnlyExcludedSiteHasStock_BackordersAndOtherChannelsStillUseIt()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5),
            Exclude("web", "NYC"));

        var web = pool.Do(Order("o1", BostonCustomer, Line("1", "A", 2)));
        var ebay = Decided(pool.Do(Order("o2", BostonCustomer, "ebay", FulfillmentMode.Merchant, 0, null, Line("1", "A", 2))));

        Decided(web).Allocations.ShouldBeEmpty();
        web.OfType<OrderBackordered>().Single().Reason.ShouldBe("insufficient stock at eligible locations");
        ebay.Allocations.ShouldBe([new LineAllocation("1", "A", "NYC", 2)]);
        pool.State.GetChannelAvailable("web", "A").ShouldBe(0, "an excluded site's stock is not for sale on the channel");
        pool.State.GetChannelAvailable("ebay", "A").ShouldBe(3);
    }

    [Fact]
    public void ExcludeLocations_SetAfterwards_AnnouncesTheDropAndKeepsExistingAllocations()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5), Receive("A", "LAX", 4),
            new SetRoutingRules("web", Defaults, true, []),
            Order("o1", BostonCustomer, Line("1", "A", 1)));
        pool.State.GetLevel("A", "NYC")!.Allocated.ShouldBe(1);

        var events = pool.Do(Exclude("web", "NYC"));

        // The NYC cell no longer counts for web: its level must carry web's lower figure, or no sync would learn it.
        events.OfType<StockLevelChanged>().Single(l => l.LocationId == "NYC").ChannelAvailable
            .ShouldBe([new ChannelAvailability("web", 4)]);
        pool.State.GetLevel("A", "NYC")!.Allocated.ShouldBe(1, "the site committed to the order; only new allocations avoid it");
    }

    [Fact]
    public void ExcludeLocations_UnknownLocation_IsRejectedAndRulesUnchanged()
    {
        var pool = new PoolHarness().With(Site("NYC", "US", NewYork), Receive("A", "NYC", 5));

        pool.Do(Exclude("web", "NOPE")).ShouldHaveSingleItem().ShouldBeOfType<CommandRejected>().Reason.ShouldBe("unknown location 'NOPE'");
        Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 1)))).Allocations.ShouldBe([new LineAllocation("1", "A", "NYC", 1)]);
    }

    [Fact]
    public void ExcludeLocations_ExclusionLifted_BackorderFilledFromTheSite()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Receive("A", "NYC", 5), Exclude("web", "NYC"),
            Order("o1", BostonCustomer, Line("1", "A", 2)));

        var events = pool.Do(new SetRoutingRules("web", Defaults, true, []));

        Decided(events).Allocations.ShouldBe([new LineAllocation("1", "A", "NYC", 2)]);
    }

    [Fact]
    public void SetChannelLocations_SiteUnmapped_AnnouncesTheChannelsLowerAvailability()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5), Receive("A", "LAX", 4),
            new SetChannelLocations("web", ["NYC", "LAX"]));

        var events = pool.Do(new SetChannelLocations("web", ["LAX"]));

        events.OfType<StockLevelChanged>().Single(l => l.LocationId == "NYC").ChannelAvailable.ShouldBe([new ChannelAvailability("web", 4)]);
    }

    [Fact]
    public void UpsertLocation_SiteBecomesFba_AnnouncesTheChannelsLowerAvailability()
    {
        var pool = new PoolHarness().With(
            Site("NYC", "US", NewYork), Site("LAX", "US", LosAngeles),
            Receive("A", "NYC", 5), Receive("A", "LAX", 4),
            new SetChannelLocations("web", null));

        var events = pool.Do(Site("NYC", "US", NewYork, LocationKind.AmazonFba));

        // FBA cells carry no figures of their own, but this one must tell web its 5 units are gone.
        events.OfType<StockLevelChanged>().Single(l => l.LocationId == "NYC").ChannelAvailable.ShouldBe([new ChannelAvailability("web", 4)]);
        pool.Do(Receive("A", "NYC", 1)).OfType<StockLevelChanged>().Single().ChannelAvailable.ShouldBeEmpty();
    }

    [Fact]
    public void RequireFullAvailability_NoSingleSiteHasAll_BackordersWholeOrderInsteadOfSplitting()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            Receive("A", "S1", 3), Receive("A", "S2", 2),
            RequireFull("web"));

        var events = pool.Do(Order("o1", BostonCustomer, Line("1", "A", 5)));

        var decided = Decided(events);
        decided.Allocations.ShouldBeEmpty();
        decided.Backordered.ShouldBe([new LineBackorder("1", "A", 5)]);
        decided.RuleTrail.ShouldContain("require full availability: no eligible location can ship the whole order; nothing allocated, no split");
        events.OfType<OrderBackordered>().Single().Reason.ShouldBe("require full availability: no single eligible location can ship the whole order");
        events.OfType<StockLevelChanged>().ShouldBeEmpty("nothing was allocated");
    }

    [Fact]
    public void RequireFullAvailability_StockArrivesAtOneSite_WholeOrderAllocatedThere()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            Receive("A", "S1", 3), Receive("A", "S2", 2),
            RequireFull("web"),
            Order("o1", BostonCustomer, Line("1", "A", 5)));

        var partial = pool.Do(Receive("A", "S1", 1));
        var complete = pool.Do(Receive("A", "S2", 3));

        partial.OfType<AllocationDecided>().ShouldBeEmpty("4 at S1 still cannot ship 5: the fill attempt leaves no trace");
        Decided(complete).Allocations.ShouldBe([new LineAllocation("1", "A", "S2", 5)]);
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(0);
    }

    [Fact]
    public void RequireFullAvailability_TwoLinesEachStockedElsewhere_NotSplit()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago), Site("S3", "US", LosAngeles),
            Receive("A", "S1", 5), Receive("B", "S2", 5), Receive("A", "S3", 5), Receive("B", "S3", 5),
            RequireFull("web"));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 1), Line("2", "B", 1))));

        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "S3", 1), new LineAllocation("2", "B", "S3", 1)]);
        decided.RuleTrail.ShouldContain("S3 is the only eligible location that can ship all 2 unit(s): allocated there");
    }

    [Fact]
    public void RequireFullAvailability_StockLostAtHeldSite_OrderReleasedWholeThenMovesWhereItFits()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            Receive("A", "S1", 5), Receive("A", "S2", 3),
            RequireFull("web"),
            Order("o1", BostonCustomer, Line("1", "A", 5)));

        var lost = pool.Do(new AdjustStock("A", "S1", -1, "damaged"));
        var arrived = pool.Do(Receive("A", "S2", 2));

        lost.OfType<AllocationReleased>().SelectMany(r => r.Lines).Sum(l => l.Quantity).ShouldBe(5, "all of it, not just the lost unit");
        pool.State.GetLevel("A", "S1").ShouldBe(new StockLevel(4, 0, 0, 0, 0));
        lost.OfType<AllocationDecided>().Last().Backordered.ShouldBe([new LineBackorder("1", "A", 5)]);
        Decided(arrived).Allocations.ShouldBe([new LineAllocation("1", "A", "S2", 5)]);
    }

    [Fact]
    public void RequireFullAvailability_TurnedOnWithPartlyAllocatedOrder_ReleasesThePart()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US"), Receive("A", "S1", 3),
            Order("o1", new ShipTo("US"), Line("1", "A", 5)));
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(3);

        var events = pool.Do(RequireFull("web"));

        events.OfType<AllocationReleased>().Single().Lines.ShouldBe([new LineAllocation("1", "A", "S1", 3)]);
        pool.State.GetLevel("A", "S1")!.Allocated.ShouldBe(0);
        pool.State.GetOrder("o1")!.Lines.Single().Backordered.ShouldBe(5);
    }

    [Fact]
    public void RequireFullAvailability_EditBeyondHeldSite_MovesWholeOrderToSiteWithAll()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            Receive("A", "S1", 3), Receive("A", "S2", 6),
            RequireFull("web"),
            Order("o1", BostonCustomer, Line("1", "A", 2)));
        pool.State.GetOrder("o1")!.Lines.Single().Allocations.Single().LocationId.ShouldBe("S1");

        var events = pool.Do(new UpdateOrder("o1", BostonCustomer, [Line("1", "A", 5)]));

        events.OfType<AllocationReleased>().Single().Lines.ShouldBe([new LineAllocation("1", "A", "S1", 2)]);
        Decided(events).Allocations.ShouldBe([new LineAllocation("1", "A", "S2", 5)]);
    }

    [Fact]
    public void RequireFullAvailability_OversellAllowed_WholeOrderGoesToBestSiteBeyondStock()
    {
        var pool = new PoolHarness().With(
            Site("S1", "US", NewYork), Site("S2", "US", Chicago),
            Receive("A", "S1", 3), Receive("A", "S2", 2),
            new ConfigurePool(AllowOversell: true),
            RequireFull("web"));

        var decided = Decided(pool.Do(Order("o1", BostonCustomer, Line("1", "A", 5))));

        decided.Allocations.ShouldBe([new LineAllocation("1", "A", "S1", 5)]);
        pool.State.GetLevel("A", "S1")!.Net.ShouldBe(-2);
    }
}
