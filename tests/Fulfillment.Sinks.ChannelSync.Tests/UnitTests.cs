using Confluent.Kafka;
using CsCheck;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync.Tests;

public class UnitTests
{
    [Fact]
    public void StockCoalescer_BurstForOneSku_KeepsOnlyTheLatestFigurePerShop()
    {
        var coalescer = new StockCoalescer();
        var t = new DateTime(2025, 11, 21, 0, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < 100; i++)
        {
            coalescer.Add(new StockPush($"p{i}", "pool", "e", Channel.Shopify, "s1", "SKU-1", 100 - i, t.AddMilliseconds(i)));
        }

        coalescer.Add(new StockPush("late-old", "pool", "e", Channel.Shopify, "s1", "SKU-1", 999, t));
        coalescer.Add(new StockPush("w", "pool", "e", Channel.WooCommerce, "w1", "SKU-1", 5, t));

        var drained = coalescer.Drain();

        drained.Count.ShouldBe(2);
        drained.Single(p => p.Channel == Channel.Shopify).Available.ShouldBe(1);
        coalescer.PendingCount.ShouldBe(0);
    }

    [Fact]
    public void OffsetTracker_OutOfOrderCompletion_CommitsOnlyUpToTheOldestUnfinished()
    {
        var tracker = new OffsetTracker();
        var tp = new TopicPartition("shipments", 0);
        foreach (var o in new long[] { 10, 11, 12 })
        {
            tracker.Start(new TopicPartitionOffset(tp, o));
        }

        tracker.Complete(new TopicPartitionOffset(tp, 11));
        tracker.Complete(new TopicPartitionOffset(tp, 12));
        tracker.Committable().Single().Offset.Value.ShouldBe(10);

        tracker.Complete(new TopicPartitionOffset(tp, 10));
        tracker.Committable().Single().Offset.Value.ShouldBe(13);
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
