using Avro.Specific;
using CsCheck;
using Dapper;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Stock;
using Fulfillment.Sinks.Views.Replay;
using Fulfillment.Sinks.Views.Tests.Infrastructure;

namespace Fulfillment.Sinks.Views.Tests;

/// <summary>
/// The projection and the writer without Kafka: any arrival order, any batch split and any duplicates end in the same
/// views as the in-order run (what at-least-once delivery, re-seeding and replay rely on).
/// </summary>
[Collection(SinkCollection.Name)]
public sealed class OrderIndependenceTests(SinkEnvironment env)
{
    private const string Pool = "pool-a";

    private static List<(string Topic, ISpecificRecord Value)> Scenario()
    {
        var t = Ev.T0;
        var order1 = Ev.Order("o-1", ("l1", "SKU-1", 2), ("l2", "SKU-2", 1));
        var order1Changed = Ev.Order("o-1", ("l1", "SKU-1", 1));
        order1Changed.channel_status = "edited";
        return
        [
            ("orders", Ev.Placed(Pool, order1, t)),
            ("orders", Ev.Updated(Pool, order1Changed, t.AddSeconds(10), "upd-o-1")),
            ("orders", Ev.Placed(Pool, Ev.Order("o-2", ("l1", "SKU-3", 5)), t.AddSeconds(1))),
            ("orders", Ev.Cancelled(Pool, "o-2", t.AddSeconds(20))),
            ("allocations", Ev.Allocated(Pool, "o-1", t.AddSeconds(11), ("l1", "SKU-1", "WH1", 1))),
            ("allocations", Ev.Backordered(Pool, "o-2", t.AddSeconds(2), "l1", "SKU-3", 5)),
            ("allocations", Ev.Backordered(Pool, "o-2", t.AddSeconds(3), "l1", "SKU-3", 4)),
            ("allocations", new AllocationEvent
            {
                metadata = Ev.Meta("rel-o-1", Pool, "o-1", t.AddSeconds(12)),
                body = new AllocationReleased
                {
                    allocation_id = "a-o-1", order_id = "o-1", reason = ReleaseReason.Manual,
                    lines = [new AllocationLine { line_id = "l1", sku = "SKU-1", location_id = "WH1", quantity = 1 }],
                },
            }),
            ("shipments", Ev.Shipped(Pool, "o-1", "s-1", "WH1", t.AddSeconds(30), ("l1", "SKU-1", 1))),
            ("push", Ev.Push(Pool, "o-1", "s-1", 1, PushOutcome.Retrying, t.AddSeconds(31))),
            ("push", Ev.Push(Pool, "o-1", "s-1", 2, PushOutcome.Failed, t.AddSeconds(32))),
            ("push", Ev.Push(Pool, "o-1", "s-1", 3, PushOutcome.Pushed, t.AddSeconds(33))),
            ("levels", Ev.Level(Pool, "SKU-1", "WH1", 10, 0, t)),
            ("levels", Ev.Level(Pool, "SKU-1", "WH1", 10, 1, t.AddSeconds(11))),
            ("levels", Ev.Level(Pool, "SKU-1", "WH1", 10, 0, t.AddSeconds(12))),
            ("levels", Ev.Level(Pool, "SKU-1", "WH1", 9, 0, t.AddSeconds(30))),
            ("levels", Ev.Level(Pool, "SKU-3", "WH2", 0, 0, t.AddSeconds(2))),
            ("levels", new StockLevelEvent
            {
                metadata = Ev.Meta("drift-1", Pool, "count-1", t.AddSeconds(40)),
                body = new DriftDetected { sku = "SKU-1", location_id = "WH1", expected_on_hand = 9, reported_on_hand = 8, drift = -1, detected_by = DriftSource.StockCount },
            }),
            ("commands", Ev.Command(Pool, "cmd-tr", "t-1", t, Ev.TransferRequest("t-1", 5))),
            ("commands", Ev.Command(Pool, "cmd-ts", "t-1", t.AddSeconds(5), Ev.TransferShip("t-1", 4))),
            ("commands", Ev.Command(Pool, "cmd-tv", "t-1", t.AddSeconds(9), Ev.TransferReceive("t-1", 4, 3))),
            ("commands", Ev.Command(Pool, "cmd-l1", "WH1", t, Location("Old name"))),
            ("commands", Ev.Command(Pool, "cmd-l2", "WH1", t.AddSeconds(1), Location("New name"))),
            ("commands", Ev.Command(Pool, "cmd-s1", "SKU-1", t, new SafetyStockSet { sku = "SKU-1", quantity = 2 })),
            ("commands", Ev.Command(Pool, "cmd-s2", "SKU-1", t.AddSeconds(1), new SafetyStockSet { sku = "SKU-1", quantity = 3 })),
            ("commands", Ev.Command(Pool, "cmd-r1", "routing", t, new RoutingRulesSet
            {
                channel = Channel.Shopify, allow_split = false,
                rules = [new RoutingRule { kind = RoutingRuleKind.MinimizeSplits, location_ids = [], parameters = new Dictionary<string, string>() }],
            })),
            ("dead", new DeadLetter
            {
                metadata = Ev.Meta("dl-1", Pool, "o-9", t), source_topic = "fulfillment.orders", source_partition = 1, source_offset = 7,
                reason = "bad", error_type = "Parse", failed_at = t, headers = [],
            }),
        ];
    }

    private static LocationUpserted Location(string name) => new()
    {
        location_id = "WH1", name = name, kind = LocationKind.Warehouse, active = true, address = new Address { country_code = "US" },
        countries_served = ["US"], priority = 1,
    };

    [Fact]
    public async Task Projection_InOrder_DerivesStatusesVersionsAndTransfers()
    {
        var schema = await env.ProjectAsync(Scenario(), [1]);

        await using var db = await env.DataSource.OpenConnectionAsync();
        (await db.QuerySingleAsync<(string, string, string)>($"SELECT status, sync_state, channel_status FROM {schema}.orders WHERE order_id = 'o-1'"))
            .ShouldBe(("shipped", "synced", "edited"));
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {schema}.order_lines WHERE order_id = 'o-1'")).ShouldBe(1);
        (await db.QuerySingleAsync<string>($"SELECT status FROM {schema}.orders WHERE order_id = 'o-2'")).ShouldBe("cancelled");
        (await db.QuerySingleAsync<(int, DateTime)>($"SELECT quantity, first_backordered_at FROM {schema}.backorders WHERE order_id = 'o-2'"))
            .ShouldBe((4, Ev.T0.AddSeconds(2)));
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {schema}.open_backorders")).ShouldBe(0);
        (await db.QuerySingleAsync<(int, int)>($"SELECT on_hand, allocated FROM {schema}.stock_levels WHERE sku = 'SKU-1'")).ShouldBe((9, 0));
        (await db.QuerySingleAsync<(int, int, int)>($"SELECT requested_quantity, shipped_quantity, received_quantity FROM {schema}.transfer_lines WHERE transfer_id = 't-1'"))
            .ShouldBe((5, 4, 3));
        (await db.QuerySingleAsync<string>($"SELECT name FROM {schema}.locations WHERE location_id = 'WH1'")).ShouldBe("New name");
        (await db.QuerySingleAsync<int>($"SELECT quantity FROM {schema}.safety_stock WHERE sku = 'SKU-1'")).ShouldBe(3);
        (await db.QuerySingleAsync<int>($"SELECT (SELECT count(*) FROM {schema}.stock_drift) + (SELECT count(*) FROM {schema}.dead_letters) + (SELECT count(*) FROM {schema}.routing_rules)"))
            .ShouldBe(3);
    }

    [Fact]
    public async Task Projection_AnyArrivalOrderBatchingAndDuplicates_EqualsInOrderRun()
    {
        var baseline = await env.ProjectAsync(Scenario(), [1]);
        var gen = Gen.Select(Gen.Int, Gen.Int[1, 6].Array[1, 4], Gen.Int[0, 6]);
        await gen.SampleAsync(async sample =>
        {
            var (seed, sizes, duplicates) = sample;
            var random = new Random(seed);
            var records = Scenario();
            records.AddRange(Enumerable.Range(0, duplicates).Select(_ => records[random.Next(records.Count)]));
            var shuffled = records.OrderBy(_ => random.Next()).ToList();
            var schema = await env.ProjectAsync(shuffled, sizes);

            await using var db = await env.DataSource.OpenConnectionAsync();
            var differences = await ViewDiff.CompareAsync(db, baseline, schema);
            differences.ShouldBeEmpty($"seed {seed}, batches [{string.Join(",", sizes)}], {duplicates} duplicates:\n" +
                string.Join("\n", differences.Select(d => $"{d.Table} {d.Side}: {d.RowJson}")));
        }, iter: 12, threads: 1);
    }

    [Fact]
    public async Task Projection_TwoCancellationsAtTheSameTime_SameReasonWhateverTheBatchingAndOrder()
    {
        // A webhook and a poll reporting one cancellation: same time, different event ids and reasons.
        var byWebhook = Ev.Cancelled(Pool, "o-7", Ev.T0);
        var byPoll = Ev.Cancelled(Pool, "o-7", Ev.T0);
        byPoll.metadata.event_id = "poll-cancel-o-7";
        ((Fulfillment.Schemas.Orders.OrderCancelled)byPoll.body).reason = "BuyerCanceled";
        var reasons = new List<string>();
        foreach (var (records, sizes) in new (ISpecificRecord[], int[])[]
                 {
                     ([byWebhook, byPoll], [1]), ([byWebhook, byPoll], [2]), ([byPoll, byWebhook], [1]), ([byPoll, byWebhook], [2]),
                 })
        {
            var schema = await env.ProjectAsync(records.Select(r => ("orders", r)), sizes);
            await using var db = await env.DataSource.OpenConnectionAsync();
            reasons.Add(await db.QuerySingleAsync<string>($"SELECT cancel_reason FROM {schema}.orders WHERE order_id = 'o-7'"));
        }

        reasons.Distinct().ShouldBe(["BuyerCanceled"]);
    }

    [Fact]
    public async Task ViewDiff_CorruptedRow_ReportedOnBothSides()
    {
        var left = await env.ProjectAsync(Scenario(), [5]);
        var right = await env.ProjectAsync(Scenario(), [3]);
        await using var db = await env.DataSource.OpenConnectionAsync();
        (await ViewDiff.CompareAsync(db, left, right)).ShouldBeEmpty();

        await db.ExecuteAsync($"UPDATE {right}.stock_levels SET on_hand = on_hand + 1, sunk_at = now() WHERE sku = 'SKU-3'");
        await db.ExecuteAsync($"UPDATE {right}.stock_levels SET sunk_at = now() - interval '1 day', src_offset = 999");

        var differences = await ViewDiff.CompareAsync(db, left, right);
        differences.Select(d => (d.Table, d.Side)).ShouldBe([("stock_levels", left), ("stock_levels", right)]);
        differences[1].RowJson.ShouldContain("\"on_hand\":1");
    }
}
