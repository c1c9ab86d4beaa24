using Confluent.Kafka;
using CsCheck;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Stock;

namespace Fulfillment.Sinks.ChannelSync.Tests;

public class UnitTests
{
    private static readonly DateTimeOffset T0 = new(2025, 11, 21, 0, 0, 0, TimeSpan.Zero);

    private static StockPush Figure(Channel channel, string shop, string sku, int available, int ms) =>
        new($"p-{sku}-{ms}", "pool", "e", channel, shop, sku, available, T0.UtcDateTime.AddMilliseconds(ms));

    /// <summary>A stock level change of TENT-2P-GRN at OTT carrying these (channel, shop, available-to-sell) figures;
    /// an empty shop id is a channel-wide figure.</summary>
    private static StockLevelEvent StockLevel(string eventId, params (Channel Channel, string ShopId, int Available)[] figures) => new()
    {
        metadata = new EventMetadata { event_id = eventId, pool_id = "pool", correlation_id = "c", causation_id = "c", source_system = "s", source_id = "s" },
        body = new StockLevelChanged
        {
            sku = "TENT-2P-GRN",
            location_id = "OTT",
            channel_available_to_sell = [.. figures.Select(f => new ChannelStock { channel = f.Channel, shop_id = f.ShopId, available_to_sell = f.Available })],
        },
    };

    [Fact]
    public void StockCoalescer_BurstForOneSku_PushesOnceWithTheLatestFigurePerShopAfterTheWindow()
    {
        var coalescer = new StockCoalescer(TimeSpan.FromMilliseconds(500));
        for (var i = 0; i < 100; i++)
        {
            coalescer.Add(Figure(Channel.Shopify, "s1", "SKU-1", 100 - i, i), T0.AddMilliseconds(i), new RecordTicket("stock-levels", 0, i, 0));
        }

        coalescer.Add(Figure(Channel.Shopify, "s1", "SKU-1", 999, 0), T0.AddMilliseconds(100), new RecordTicket("stock-levels", 0, 100, 0));
        coalescer.Add(Figure(Channel.WooCommerce, "w1", "SKU-1", 5, 0), T0.AddMilliseconds(100), new RecordTicket("stock-levels", 0, 101, 0));

        coalescer.TakeDue(T0.AddMilliseconds(499)).ShouldBeEmpty();
        var due = coalescer.TakeDue(T0.AddMilliseconds(500));

        var shopify = due.ShouldHaveSingleItem();
        shopify.Push.Available.ShouldBe(1);
        shopify.Sources.Count.ShouldBe(101);
        coalescer.TakeDue(T0.AddMilliseconds(600)).Single().Key.Channel.ShouldBe(Channel.WooCommerce);
        coalescer.PendingCount.ShouldBe(0);
    }

    [Fact]
    public void StockCoalescer_FigureKeepsChanging_IsStillDueOneWindowAfterTheFirstChange()
    {
        var coalescer = new StockCoalescer(TimeSpan.FromSeconds(1));
        for (var ms = 0; ms <= 5000; ms += 100)
        {
            coalescer.Add(Figure(Channel.Shopify, "s1", "SKU-1", ms, ms), T0.AddMilliseconds(ms));
            if (ms == 1000)
            {
                // A debounce would wait for quiet and never push while the SKU keeps selling.
                coalescer.TakeDue(T0.AddMilliseconds(ms)).Single().Push.Available.ShouldBe(1000);
            }
        }
    }

    [Fact]
    public void StockCoalescer_KeyInFlight_HoldsTheNewerFigureUntilThatPushFinishes()
    {
        var coalescer = new StockCoalescer(TimeSpan.Zero);
        coalescer.Add(Figure(Channel.Amazon, "a1", "SKU-1", 5, 0), T0);
        var first = coalescer.TakeDue(T0).Single();
        coalescer.Add(Figure(Channel.Amazon, "a1", "SKU-1", 4, 1), T0.AddMilliseconds(1));

        coalescer.TakeDue(T0.AddSeconds(10)).ShouldBeEmpty();
        coalescer.Finish(first.Key);

        coalescer.TakeDue(T0.AddSeconds(10)).Single().Push.Available.ShouldBe(4);
    }

    [Fact]
    public void StockCoalescer_AnyInterleavingOfFigures_HandsOutOneLatestFigurePerKeyAndCoversEverySource() =>
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 3], Gen.Int[0, 50], Gen.Int[0, 1000]).Array[1, 60].Sample(figures =>
        {
            var coalescer = new StockCoalescer(TimeSpan.FromMilliseconds(100));
            for (var i = 0; i < figures.Length; i++)
            {
                var (channel, sku, available, at) = figures[i];
                coalescer.Add(Figure((Channel)channel, "shop", $"SKU-{sku}", available, at), T0.AddMilliseconds(i), new RecordTicket("stock-levels", 0, i, 0));
            }

            var due = coalescer.TakeDue(T0.AddSeconds(1));
            due.Select(d => d.Key).Distinct().Count().ShouldBe(due.Count);
            due.SelectMany(d => d.Sources).Select(s => s.Offset).Order().ShouldBe(Enumerable.Range(0, figures.Length).Select(i => (long)i));
            foreach (var d in due)
            {
                var latest = figures.Where(f => (Channel)f.Item1 == d.Key.Channel && $"SKU-{f.Item2}" == d.Key.Sku).Max(f => f.Item4);
                d.Push.At.ShouldBe(T0.UtcDateTime.AddMilliseconds(latest));
            }
        });

    [Fact]
    public void PushMappingStock_ChannelWideFigure_GoesToEveryConfiguredShopOfThatChannelAndNothingElse()
    {
        ChannelEndpoint[] shops =
        [
            new() { Channel = Channel.Shopify, ShopId = "a.myshopify.com" }, new() { Channel = Channel.Shopify, ShopId = "b.myshopify.com" },
            new() { Channel = Channel.Amazon, ShopId = "A2EUQ1WTGCTBG2" },
        ];
        var skipped = new List<Channel>();
        var e = StockLevel("evt-1", (Channel.Shopify, "", 7), (Channel.Amazon, "a2euq1wtgctbg2", -2), (Channel.Ebay, "", 3));

        var pushes = PushMapping.Stock(e, shops, skipped.Add);

        pushes.Select(p => (p.Channel, p.ShopId, p.Available)).ShouldBe(
            [(Channel.Shopify, "a.myshopify.com", 7), (Channel.Shopify, "b.myshopify.com", 7), (Channel.Amazon, "A2EUQ1WTGCTBG2", 0)]);
        skipped.ShouldBe([Channel.Ebay]);
        PushMapping.Stock(e, [], skipped.Add).ShouldBeEmpty();
    }

    [Fact]
    public void PushMappingStock_ShopWithItsOwnFigure_GetsOnlyItsOwnAndTheOthersTheChannelWideOne()
    {
        ChannelEndpoint[] shops =
        [
            new() { Channel = Channel.Shopify, ShopId = "a.myshopify.com" }, new() { Channel = Channel.Shopify, ShopId = "B.myshopify.com" },
        ];
        var e = StockLevel("evt-2", (Channel.Shopify, "", 7), (Channel.Shopify, "b.myshopify.com", 2));

        var pushes = PushMapping.Stock(e, shops);

        pushes.Select(p => (p.ShopId, p.Available)).ShouldBe([("a.myshopify.com", 7), ("B.myshopify.com", 2)]);
        pushes.Select(p => p.PushId).Distinct().Count().ShouldBe(2);
    }

    [Fact]
    public void OptionsValidator_ShopsMissingWhatTheirChannelNeeds_FailNamingTheSettingAndNoShopsIsValid()
    {
        var validator = new ChannelSyncOptionsValidator();
        validator.Validate(null, new ChannelSyncOptions()).Succeeded.ShouldBeTrue();
        var options = new ChannelSyncOptions();
        options.Shops.Add(new ChannelEndpoint { Channel = Channel.Amazon, ShopId = "A2EUQ1WTGCTBG2", BaseUrl = new Uri("https://sellingpartnerapi-na.amazon.com") });
        options.Shops.Add(new ChannelEndpoint { Channel = Channel.TikTokShop, ShopId = "7494049642642441621", BaseUrl = new Uri("https://open-api.tiktokglobalshop.com"),
            AppSecretEnvironmentVariable = "FULFILLMENT_TEST_UNSET_" + Guid.NewGuid().ToString("N") });
        options.Shops.Add(new ChannelEndpoint { Channel = Channel.Shopify, ShopId = "" });

        var result = validator.Validate(null, options);

        result.Failed.ShouldBeTrue();
        result.Failures!.ShouldBe([
            "ChannelSync:Shops:0:MarketplaceId is required for Amazon",
            "ChannelSync:Shops:1:AppKey is required for TikTok Shop",
            "ChannelSync:Shops:1: TikTok Shop needs AppSecretEnvironmentVariable (set) or AppSecret",
            "ChannelSync:Shops:2:ShopId is required",
            "ChannelSync:Shops:2:BaseUrl must be an absolute URL",
        ]);
    }

    [Fact]
    public void OffsetTracker_OutOfOrderCompletion_CommitsOnlyUpToTheOldestUnfinished()
    {
        var tracker = new OffsetTracker();
        var tp = new TopicPartition("shipments", 0);
        var tickets = new[] { 10L, 11, 12 }.Select(o => tracker.Start(new TopicPartitionOffset(tp, o))).ToArray();

        tracker.Complete(tickets[1]);
        tracker.Complete(tickets[2]);
        tracker.Committable().Single().Offset.Value.ShouldBe(10);

        tracker.Complete(tickets[0]);
        tracker.Committable().Single().Offset.Value.ShouldBe(13);
    }

    [Fact]
    public void OffsetTracker_PushFromBeforeARevocationFinishesLate_DoesNotCompleteTheReReadRecord()
    {
        var tracker = new OffsetTracker();
        var tp = new TopicPartition("shipments", 0);
        var before = tracker.Start(new TopicPartitionOffset(tp, 10));
        tracker.Forget([tp]);
        var reread = tracker.Start(new TopicPartitionOffset(tp, 10));

        tracker.Complete(before);
        tracker.Committable().Single().Offset.Value.ShouldBe(10);

        tracker.Complete(reread);
        tracker.Committable().Single().Offset.Value.ShouldBe(11);
    }

    [Fact]
    public void Backoff_AnyAttempt_StaysWithinTheJitterCeiling() =>
        Gen.Int[1, 30].Sample(attempt =>
        {
            var wait = PushExecutor.Backoff(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
            wait.ShouldBeGreaterThanOrEqualTo(TimeSpan.Zero);
            wait.ShouldBeLessThanOrEqualTo(TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, attempt - 1))));
        });

    [Fact]
    public void AmazonPackageReferenceId_SameShipment_SamePositiveNumberAndDiffersAcrossShipments()
    {
        AmazonPusher.PackageReferenceId("shp-1").ShouldBe(AmazonPusher.PackageReferenceId("shp-1"));
        AmazonPusher.PackageReferenceId("shp-1").ShouldNotBe(AmazonPusher.PackageReferenceId("shp-2"));
        long.Parse(AmazonPusher.PackageReferenceId("shp-1"), System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(0);
    }
}
