using Avro.Specific;
using CsCheck;
using Dapper;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Sinks.Views.Replay;
using Fulfillment.Sinks.Views.Tests.Infrastructure;

namespace Fulfillment.Sinks.Views.Tests;

/// <summary>
/// The inventory processor's outputs in the views, in the processor's order: allocations (allocation id = order id,
/// each decision the order's complete allocation) and stock levels (the last one it wrote is current). Regression for the fault drills' replay differences: pool-us orders backordered and later filled at the
/// 3PL had the fill lines in the rebuild but not in the live views (and status backordered instead of allocated),
/// because the first decision per allocation id was kept within a batch while later batches added lines: the rows
/// depended on where batch boundaries fell, which a crash and restart moves.
/// </summary>
[Collection(SinkCollection.Name)]
public sealed class AllocationSnapshotTests(SinkEnvironment env)
{
    private const string Pool = "pool-us";

    /// <summary>Orders and their allocations in the processor's output order (offsets follow list order per topic).</summary>
    private static List<(string Topic, ISpecificRecord Value)> Scenario()
    {
        var t = Ev.T0;
        return
        [
            ("orders", Ev.Placed(Pool, Ev.Order("o-b", ("l1", "SKU-9", 3)), t)),
            ("orders", Ev.Placed(Pool, Ev.Order("o-c", ("l1", "SKU-8", 2)), t)),
            ("orders", Ev.Placed(Pool, Ev.Order("o-d", ("l1", "SKU-7", 1)), t)),
            ("orders", Ev.Placed(Pool, Ev.Order("o-e", ("l1", "SKU-6", 2)), t)),
            // o-b: one unit at WH1, two backordered; a receipt at the 3PL later fills them.
            ("allocations", Ev.Decided(Pool, "o-b", "in-b/0", t.AddSeconds(1), ("l1", "SKU-9", "WH1", 1))),
            ("allocations", Ev.Backordered(Pool, "o-b", t.AddSeconds(1), "l1", "SKU-9", 2)),
            ("allocations", Ev.Decided(Pool, "o-c", "in-c/0", t.AddSeconds(1), ("l1", "SKU-8", "WH1", 2))),
            ("allocations", Ev.Decided(Pool, "o-d", "in-d/0", t.AddSeconds(1), ("l1", "SKU-7", "WH1", 1))),
            ("allocations", Ev.Decided(Pool, "o-e", "in-e/0", t.AddSeconds(1), ("l1", "SKU-6", "WH1", 2))),
            // o-c: an order update releases and re-allocates in one pass (same stream time: the offset orders them).
            ("orders", Ev.Updated(Pool, Ev.Order("o-c", ("l1", "SKU-8", 2)), t.AddSeconds(2), "upd-c")),
            ("allocations", Ev.Released(Pool, "o-c", "upd-c/0", t.AddSeconds(2), ReleaseReason.OrderChanged, ("l1", "SKU-8", "WH1", 2))),
            ("allocations", Ev.Decided(Pool, "o-c", "upd-c/1", t.AddSeconds(2), ("l1", "SKU-8", "WH2", 2))),
            // o-d: cancelled; the release is the last word.
            ("orders", Ev.Cancelled(Pool, "o-d", t.AddSeconds(3))),
            ("allocations", Ev.Released(Pool, "o-d", "cxl-d/0", t.AddSeconds(3), ReleaseReason.OrderCancelled, ("l1", "SKU-7", "WH1", 1))),
            // o-e: its stock was lost; released, re-decided with nothing, backordered.
            ("allocations", Ev.Released(Pool, "o-e", "loss/0", t.AddSeconds(4), ReleaseReason.Reallocated, ("l1", "SKU-6", "WH1", 2))),
            ("allocations", Ev.Decided(Pool, "o-e", "loss/1", t.AddSeconds(4))),
            ("allocations", Ev.Backordered(Pool, "o-e", t.AddSeconds(4), "l1", "SKU-6", 2)),
            ("allocations", Ev.Decided(Pool, "o-b", "rcv-1/0", t.AddSeconds(5), ("l1", "SKU-9", "WH1", 1), ("l1", "SKU-9", "3pl-shipbob", 2))),
        ];
    }

    [Fact]
    public async Task Allocations_BackorderFilledReallocatedCancelledLost_CurrentAllocationAndStatus()
    {
        // One batch: the case that lost the fill lines before.
        var schema = await env.ProjectAsync(Scenario(), [100], "a");

        await using var db = await env.DataSource.OpenConnectionAsync();
        (await db.QueryAsync<(string, string)>($"SELECT order_id, status FROM {schema}.orders ORDER BY 1"))
            .ShouldBe([("o-b", "allocated"), ("o-c", "allocated"), ("o-d", "cancelled"), ("o-e", "backordered")]);
        (await db.QueryAsync<(string, string, int)>($"SELECT order_id, location_id, quantity FROM {schema}.allocation_lines ORDER BY 1, 2"))
            .ShouldBe([("o-b", "3pl-shipbob", 2), ("o-b", "WH1", 1), ("o-c", "WH2", 2), ("o-d", "WH1", 1)]);
        (await db.QueryAsync<(string, int)>($"SELECT order_id, allocated_quantity::int FROM {schema}.order_line_progress ORDER BY 1"))
            .ShouldBe([("o-b", 3), ("o-c", 2), ("o-d", 0), ("o-e", 0)]);
        (await db.QuerySingleAsync<string>($"SELECT event_id FROM {schema}.allocation_decisions WHERE allocation_id = 'o-b'")).ShouldBe("rcv-1/0");
    }

    [Fact]
    public async Task StockLevels_LateBusinessTimeProcessedLast_IsTheCurrentLevel()
    {
        var t = Ev.T0;
        // A receipt processed first, then a late order webhook whose occurred_at is older: the processor's last level
        // (stream time t+11) is the cell's current one, whatever its changed_at.
        var late = Ev.Level(Pool, "SKU-1", "WH1", 10, 2, t.AddSeconds(5));
        late.metadata.recorded_at = t.AddSeconds(11);
        List<(string Topic, ISpecificRecord Value)> records =
        [
            ("levels", Ev.Level(Pool, "SKU-1", "WH1", 10, 0, t.AddSeconds(10))),
            ("levels", late),
        ];

        foreach (var sizes in new[] { new[] { 1 }, [2] })
        {
            var schema = await env.ProjectAsync(records, sizes);
            await using var db = await env.DataSource.OpenConnectionAsync();
            (await db.QuerySingleAsync<(int, int, DateTime)>($"SELECT allocated, available, changed_at FROM {schema}.stock_levels"))
                .ShouldBe((2, 8, t.AddSeconds(5)), $"batches of {sizes[0]}");
        }
    }

    [Fact]
    public async Task Allocations_AnyBatchingAndProcessorReEmission_EqualRecordAtATime()
    {
        var baseline = await env.ProjectAsync(Scenario(), [1]);
        var gen = Gen.Select(Gen.Int[1, 8].Array[1, 4], Gen.Int[0, 20]);
        await gen.SampleAsync(async sample =>
        {
            var (sizes, from) = sample;
            var records = Scenario();
            // A processor restarted from its last commit writes the outputs after it again, in the same order.
            var allocations = records.Where(r => r.Topic == "allocations").ToList();
            records.AddRange(allocations.Skip(Math.Min(from, allocations.Count)));
            var schema = await env.ProjectAsync(records, sizes);

            await using var db = await env.DataSource.OpenConnectionAsync();
            var differences = await ViewDiff.CompareAsync(db, baseline, schema);
            differences.ShouldBeEmpty($"batches [{string.Join(",", sizes)}], re-emitted from allocation {from}:\n" +
                string.Join("\n", differences.Select(d => $"{d.Table} {d.Side}: {d.RowJson}")));
        }, iter: 10, threads: 1);
    }
}
