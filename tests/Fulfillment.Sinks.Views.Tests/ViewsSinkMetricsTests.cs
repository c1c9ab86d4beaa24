using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Stock;
using Fulfillment.Sinks.Views.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fulfillment.Sinks.Views.Tests;

/// <summary>What the views sink exports about the topics it reads: allocation outcomes, drift, freshness, lag and stock
/// available per location (issue 6's metrics, bounded labels).</summary>
[Collection(SinkCollection.Name)]
public sealed class ViewsSinkMetricsTests(SinkEnvironment env)
{
    private const string Pool = "pool-metrics";

    private static double Outcome(string outcome) => ViewsSinkMetrics.AllocationOutcomes.WithLabels(outcome).Value;

    [Fact]
    public async Task Sink_AllocationDriftAndStockRecords_CountOutcomesDriftFreshnessAndLag()
    {
        var topics = env.CreateTopics(partitions: 1);
        var before = new[] { ViewsSinkMetrics.Outcomes.Allocated, ViewsSinkMetrics.Outcomes.Split, ViewsSinkMetrics.Outcomes.Backordered, ViewsSinkMetrics.Outcomes.Released }
            .ToDictionary(o => o, Outcome);
        var drift = ViewsSinkMetrics.DriftDetected.WithLabels(nameof(DriftSource.StockCount)).Value;
        var driftUnits = ViewsSinkMetrics.DriftUnits.WithLabels(nameof(DriftSource.StockCount)).Value;
        var freshness = ViewsSinkMetrics.StockFreshness.Count;
        var now = DateTime.UtcNow;
        using (var p = env.Producer())
        {
            await p.SendAsync(topics.Allocations, Pool, Ev.Decided(Pool, "m-1", "m1/0", now, ("l1", "SKU-1", "WH1", 2)));
            await p.SendAsync(topics.Allocations, Pool, Ev.Decided(Pool, "m-2", "m2/0", now, ("l1", "SKU-1", "WH1", 1), ("l1", "SKU-1", "WH2", 1)));
            await p.SendAsync(topics.Allocations, Pool, Ev.Decided(Pool, "m-3", "m3/0", now));
            await p.SendAsync(topics.Allocations, Pool, Ev.Backordered(Pool, "m-3", now, "l1", "SKU-1", 4));
            await p.SendAsync(topics.Allocations, Pool, Ev.Released(Pool, "m-1", "m1x/0", now, ReleaseReason.OrderCancelled, ("l1", "SKU-1", "WH1", 2)));
            await p.SendAsync(topics.StockLevels, Pool, Ev.Level(Pool, "SKU-1", "WH1", 10, 2, now));
            await p.SendAsync(topics.StockLevels, Pool, Ev.Level(Pool, "SKU-2", "WH1", 5, 0, now));
            await p.SendAsync(topics.StockLevels, Pool, new StockLevelEvent
            {
                metadata = Ev.Meta("drift-m", Pool, "count-m", now),
                body = new DriftDetected { sku = "SKU-1", location_id = "WH1", expected_on_hand = 10, reported_on_hand = 7, drift = -3, detected_by = DriftSource.StockCount },
            });
            p.Flush();
        }

        await env.RunToEndAsync(SinkEnvironment.Options(topics));

        (Outcome(ViewsSinkMetrics.Outcomes.Allocated) - before[ViewsSinkMetrics.Outcomes.Allocated]).ShouldBe(1);
        (Outcome(ViewsSinkMetrics.Outcomes.Split) - before[ViewsSinkMetrics.Outcomes.Split]).ShouldBe(1);
        (Outcome(ViewsSinkMetrics.Outcomes.Backordered) - before[ViewsSinkMetrics.Outcomes.Backordered]).ShouldBe(1);
        (Outcome(ViewsSinkMetrics.Outcomes.Released) - before[ViewsSinkMetrics.Outcomes.Released]).ShouldBe(1);
        (ViewsSinkMetrics.DriftDetected.WithLabels(nameof(DriftSource.StockCount)).Value - drift).ShouldBe(1);
        (ViewsSinkMetrics.DriftUnits.WithLabels(nameof(DriftSource.StockCount)).Value - driftUnits).ShouldBe(3);
        // Two stock-level changes (the drift report is not one), each observed once when its transaction committed.
        (ViewsSinkMetrics.StockFreshness.Count - freshness).ShouldBe(2);
        // Read to the end: no lag left on the partitions it read.
        ViewsSinkMetrics.ConsumerLag.GetAllLabelValues().ShouldContain(l => l[0] == topics.Allocations && l[1] == "0");
        ViewsSinkMetrics.ConsumerLag.WithLabels(topics.Allocations, "0").Value.ShouldBe(0);
        ViewsSinkMetrics.ConsumerLag.WithLabels(topics.StockLevels, "0").Value.ShouldBe(0);
    }

    [Fact]
    public async Task StockAvailabilityExporter_StockLevels_SumsPerPoolAndLocationAndDropsVanishedOnes()
    {
        var topics = env.CreateTopics(partitions: 1);
        var pool = $"pool-avail-{Guid.NewGuid():N}"[..20];
        using (var p = env.Producer())
        {
            await p.SendAsync(topics.StockLevels, pool, Ev.Level(pool, "SKU-1", "WH1", 10, 3, Ev.T0));
            await p.SendAsync(topics.StockLevels, pool, Ev.Level(pool, "SKU-2", "WH1", 4, 0, Ev.T0));
            await p.SendAsync(topics.StockLevels, pool, Ev.Level(pool, "SKU-1", "WH2", 6, 6, Ev.T0));
            // A later level of the same cell replaces the first one: only the current figure counts.
            await p.SendAsync(topics.StockLevels, pool, Ev.Level(pool, "SKU-2", "WH1", 9, 1, Ev.T0.AddSeconds(1)));
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(options);
        var exporter = new StockAvailabilityExporter(env.DataSource, options.Schema, NullLogger.Instance) { MinInterval = TimeSpan.Zero };

        await exporter.RefreshAsync(CancellationToken.None);

        ViewsSinkMetrics.StockAvailable.WithLabels(pool, "WH1").Value.ShouldBe(7 + 8);
        ViewsSinkMetrics.StockAvailable.WithLabels(pool, "WH2").Value.ShouldBe(0);

        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            await using var delete = new Npgsql.NpgsqlCommand($"DELETE FROM {options.Schema}.stock_levels WHERE location_id = 'WH2'", db);
            await delete.ExecuteNonQueryAsync();
        }

        await exporter.RefreshAsync(CancellationToken.None);
        ViewsSinkMetrics.StockAvailable.GetAllLabelValues().ShouldNotContain(l => l[0] == pool && l[1] == "WH2");
        ViewsSinkMetrics.StockAvailable.GetAllLabelValues().ShouldContain(l => l[0] == pool && l[1] == "WH1");
    }
}
