using Dapper;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Stock;
using Fulfillment.Sinks.Views.Audit;
using Fulfillment.Sinks.Views.Replay;
using Fulfillment.Sinks.Views.Tests.Infrastructure;

namespace Fulfillment.Sinks.Views.Tests;

/// <summary>Events on the topics to rows in Postgres, through the real broker, registry and serdes.</summary>
[Collection(SinkCollection.Name)]
public sealed class SinkProjectionTests(SinkEnvironment env)
{
    private const string Pool = "pool-a";

    [Fact]
    public async Task Sink_OrderLifecycle_WritesOrderLinesAllocationsShipmentsAndSyncState()
    {
        var topics = env.CreateTopics();
        using (var p = env.Producer())
        {
            await p.SendAsync(topics.RawIngest, Pool, Ev.Raw(Pool, "dlv-1", "o-1", Ev.T0));
            await p.SendAsync(topics.Orders, Pool, Ev.Placed(Pool, Ev.Order("o-1", ("l1", "SKU-1", 2), ("l2", "SKU-2", 1)), Ev.T0.AddSeconds(1), causation: "dlv-1"));
            await p.SendAsync(topics.Allocations, Pool, Ev.Allocated(Pool, "o-1", Ev.T0.AddSeconds(2), ("l1", "SKU-1", "WH1", 2), ("l2", "SKU-2", "WH2", 1)));
            await p.SendAsync(topics.Shipments, Pool, Ev.Shipped(Pool, "o-1", "s-1", "WH1", Ev.T0.AddSeconds(3), ("l1", "SKU-1", 2)));
            await p.SendAsync(topics.Shipments, Pool, Ev.Shipped(Pool, "o-1", "s-2", "WH2", Ev.T0.AddSeconds(4), ("l2", "SKU-2", 1)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, "o-1", "s-1", 1, PushOutcome.Retrying, Ev.T0.AddSeconds(5)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, "o-1", "s-1", 2, PushOutcome.Pushed, Ev.T0.AddSeconds(6)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, "o-1", "s-2", 1, PushOutcome.Pushed, Ev.T0.AddSeconds(7)));
            await p.SendAsync(topics.StockLevels, Pool, Ev.Level(Pool, "SKU-1", "WH1", 8, 0, Ev.T0.AddSeconds(3)));
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        var sink = await env.RunToEndAsync(options);

        sink.RecordsWritten.ShouldBe(9);
        await using var db = await env.DataSource.OpenConnectionAsync();
        var s = options.Schema;
        var order = await db.QuerySingleAsync<(string Status, string SyncState, string Channel, string OrderNumber)>(
            $"SELECT status, sync_state, channel, order_number FROM {s}.orders WHERE order_id = 'o-1'");
        order.ShouldBe(("shipped", "synced", "Shopify", "#o-1"));
        (await db.QueryAsync<(string, int, int, int)>(
                $"SELECT line_id, quantity, allocated_quantity::int, shipped_quantity::int FROM {s}.order_line_progress WHERE order_id = 'o-1' ORDER BY line_id"))
            .ShouldBe([("l1", 2, 2, 2), ("l2", 1, 1, 1)]);
        (await db.QueryAsync<string>($"SELECT location_id FROM {s}.allocation_lines WHERE order_id = 'o-1' ORDER BY 1")).ShouldBe(["WH1", "WH2"]);
        (await db.QuerySingleAsync<string[]>($"SELECT rule_trail FROM {s}.allocation_decisions WHERE order_id = 'o-1'")).Length.ShouldBe(2);
        (await db.QueryAsync<string>($"SELECT tracking_number FROM {s}.shipments WHERE order_id = 'o-1' ORDER BY 1")).ShouldBe(["1Zs-1", "1Zs-2"]);
        (await db.QuerySingleAsync<(int, string)>($"SELECT attempts, outcome FROM {s}.channel_pushes WHERE push_id = 's-1'")).ShouldBe((2, "Pushed"));
        (await db.QuerySingleAsync<(int, int)>($"SELECT on_hand, available FROM {s}.stock_levels WHERE sku = 'SKU-1'")).ShouldBe((8, 8));
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {s}.location_daily WHERE location_id = 'WH1' AND fill_rate = 1 AND split_rate = 1")).ShouldBe(1);
        (await db.QueryAsync<(string, int, long)>($"SELECT topic, partition, next_offset FROM {s}.sink_offsets WHERE consumer = 'views-sink'")).Sum(o => o.Item3).ShouldBe(9);
        (await db.QueryAsync<(string, int, long)>($"SELECT topic, partition, next_offset FROM {s}.sink_offsets WHERE consumer = 'views-sink.audit'")).Sum(o => o.Item3).ShouldBe(9);
    }

    [Fact]
    public async Task Sink_EveryRecordDeliveredTwice_ViewsEqualSingleDelivery()
    {
        var topics = env.CreateTopics();
        async Task SendAll(SinkEnvironment.EventProducer p)
        {
            await p.SendAsync(topics.Orders, Pool, Ev.Placed(Pool, Ev.Order("o-2", ("l1", "SKU-1", 3)), Ev.T0));
            await p.SendAsync(topics.Allocations, Pool, Ev.Allocated(Pool, "o-2", Ev.T0.AddSeconds(1), ("l1", "SKU-1", "WH1", 3)));
            await p.SendAsync(topics.Shipments, Pool, Ev.Shipped(Pool, "o-2", "s-9", "WH1", Ev.T0.AddSeconds(2), ("l1", "SKU-1", 3)));
            await p.SendAsync(topics.StockLevels, Pool, Ev.Level(Pool, "SKU-1", "WH1", 5, 3, Ev.T0.AddSeconds(1)));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "cmd-t1", "t-1", Ev.T0, Ev.TransferRequest("t-1", 4)));
            p.Flush();
        }

        using var producer = env.Producer();
        await SendAll(producer);
        var once = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(once);
        await SendAll(producer);
        var twice = SinkEnvironment.Options(topics);
        var sink = await env.RunToEndAsync(twice);

        sink.RecordsWritten.ShouldBe(10);
        await using var db = await env.DataSource.OpenConnectionAsync();
        (await ViewDiff.CompareAsync(db, once.Schema, twice.Schema)).ShouldBeEmpty();
        (await db.QuerySingleAsync<int>($"SELECT shipped_quantity::int FROM {twice.Schema}.order_line_progress WHERE order_id = 'o-2'")).ShouldBe(3);
        (await db.QuerySingleAsync<int>($"SELECT requested_quantity FROM {twice.Schema}.transfer_lines WHERE transfer_id = 't-1'")).ShouldBe(4);
    }

    [Fact]
    public async Task Sink_UndecodableRecord_IsKeptInRejectsAndLaterRecordsStillLand()
    {
        var topics = env.CreateTopics(partitions: 1);
        using (var p = env.Producer())
        {
            p.Send(topics.Orders, Pool, [0, 0, 0, 0, 99, 1, 2, 3]);
            await p.SendAsync(topics.Orders, Pool, Ev.Placed(Pool, Ev.Order("o-3", ("l1", "SKU-1", 1)), Ev.T0));
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(options);

        await using var db = await env.DataSource.OpenConnectionAsync();
        var reject = await db.QuerySingleAsync<(long Offset, string Error)>($"SELECT kafka_offset, error FROM {options.Schema}.sink_rejects");
        reject.Offset.ShouldBe(0);
        reject.Error.ShouldNotBeNullOrWhiteSpace();
        (await db.QuerySingleAsync<string>($"SELECT status FROM {options.Schema}.orders WHERE order_id = 'o-3'")).ShouldBe("open");
        (await db.QuerySingleAsync<long>($"SELECT next_offset FROM {options.Schema}.sink_offsets WHERE topic = @t AND consumer = 'views-sink'", new { t = topics.Orders })).ShouldBe(2);
    }

    [Fact]
    public async Task Sink_BundleChannelLocationPoolSettingCommandsAndLedgerMovements_LatestStateAndEveryMovement()
    {
        var topics = env.CreateTopics(partitions: 1);
        using (var p = env.Producer())
        {
            SkuQuantity Part(string sku, int quantity) => new() { sku = sku, quantity = quantity };
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-b1", "KIT-1", Ev.T0, new BundleDefined { bundle_sku = "KIT-1", components = [Part("SKU-1", 2), Part("SKU-2", 1)] }));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-b2", "KIT-2", Ev.T0, new BundleDefined { bundle_sku = "KIT-2", components = [Part("SKU-3", 1)] }));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-b3", "KIT-2", Ev.T0.AddSeconds(1), new BundleRemoved { bundle_sku = "KIT-2" }));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-cl1", "ch", Ev.T0, new ChannelLocationsSet { channel = Channel.Shopify, location_ids = ["WH1", "WH2"] }));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-cl2", "ch", Ev.T0, new ChannelLocationsSet { channel = Channel.Amazon, shop_id = "eu", location_ids = null }));
            // Older than the setting already applied: must not win, whatever the arrival order.
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-ps2", "ps", Ev.T0.AddSeconds(2), new PoolSettingsSet { allow_oversell = true, allow_split = false, backorder_policy = BackorderPolicy.ShipComplete }));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, "c-ps1", "ps", Ev.T0, new PoolSettingsSet { allow_oversell = false, allow_split = true }));
            await p.SendAsync(topics.StockLevels, Pool, new StockLevelEvent
            {
                metadata = Ev.Meta("mv-1", Pool, "SKU-1@WH1", Ev.T0, source: "inventory-processor"),
                body = new StockMoved { sku = "SKU-1", location_id = "WH1", kind = StockMovementKind.Receipt, quantity = 5, on_hand_after = 5, reference = "po-1" },
            });
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(options);

        await using var db = await env.DataSource.OpenConnectionAsync();
        var s = options.Schema;
        (await db.QueryAsync<(string, string, bool)>($"SELECT bundle_sku, components::text, removed FROM {s}.bundles ORDER BY 1")).ShouldBe([
            ("KIT-1", """[{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 1}]""", false), ("KIT-2", "[]", true)]);
        (await db.QueryAsync<(string, string, bool, string)>($"SELECT channel, shop_id, all_locations, array_to_string(location_ids, ',') FROM {s}.channel_locations ORDER BY 1"))
            .ShouldBe([("Amazon", "eu", true, ""), ("Shopify", "*", false, "WH1,WH2")]);
        (await db.QuerySingleAsync<(bool, bool, string)>($"SELECT allow_oversell, allow_split, backorder_policy FROM {s}.pool_settings WHERE pool_id = @Pool", new { Pool }))
            .ShouldBe((true, false, "ShipComplete"));
        (await db.QuerySingleAsync<(string, int, int, string)>($"SELECT kind, quantity, on_hand_after, reference FROM {s}.stock_movements"))
            .ShouldBe(("Receipt", 5, 5, "po-1"));
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {s}.sink_rejects")).ShouldBe(0);
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {s}.events WHERE kind IN ('BundleDefined', 'BundleRemoved', 'ChannelLocationsSet', 'PoolSettingsSet', 'StockMoved')")).ShouldBe(8);
    }

    [Fact]
    public async Task Sink_AuditTrackBehindStateTrack_ReReadsForTheAuditIndexOnly()
    {
        var topics = env.CreateTopics(partitions: 1);
        using (var p = env.Producer())
        {
            await p.SendAsync(topics.Orders, Pool, Ev.Placed(Pool, Ev.Order("o-5", ("l1", "SKU-1", 2)), Ev.T0));
            await p.SendAsync(topics.Allocations, Pool, Ev.Allocated(Pool, "o-5", Ev.T0.AddSeconds(1), ("l1", "SKU-1", "WH1", 2)));
            await p.SendAsync(topics.Orders, Pool, Ev.Cancelled(Pool, "o-5", Ev.T0.AddSeconds(2)));
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(options);
        var clean = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(clean);
        // A crash after the view rows' commit and before the audit index's: the audit track is behind on the orders topic.
        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            await db.ExecuteAsync($"DELETE FROM {options.Schema}.events WHERE topic = @t", new { t = topics.Orders });
            await db.ExecuteAsync($"UPDATE {options.Schema}.sink_offsets SET next_offset = 0 WHERE consumer = 'views-sink.audit' AND topic = @t", new { t = topics.Orders });
            await db.ExecuteAsync($"UPDATE {options.Schema}.orders SET sunk_at = 'epoch' WHERE order_id = 'o-5'");
        }

        var restarted = await env.RunToEndAsync(options);

        restarted.RecordsWritten.ShouldBe(0, "no record goes to the view rows twice");
        await using var check = await env.DataSource.OpenConnectionAsync();
        (await ViewDiff.CompareAsync(check, options.Schema, clean.Schema)).ShouldBeEmpty();
        (await check.QuerySingleAsync<long>($"SELECT count(*) FROM {options.Schema}.events WHERE topic = @t", new { t = topics.Orders })).ShouldBe(2);
        (await check.QuerySingleAsync<DateTime>($"SELECT sunk_at FROM {options.Schema}.orders WHERE order_id = 'o-5'")).ShouldBe(DateTime.UnixEpoch);
        (await check.QuerySingleAsync<long>($"SELECT next_offset FROM {options.Schema}.sink_offsets WHERE consumer = 'views-sink.audit' AND topic = @t", new { t = topics.Orders })).ShouldBe(2);
    }

    [Fact]
    public async Task AuditTimeline_OrderAcrossTopics_ListsRawDeliveryToPushInTimeOrder()
    {
        var topics = env.CreateTopics();
        using (var p = env.Producer())
        {
            await p.SendAsync(topics.RawIngest, Pool, Ev.Raw(Pool, "dlv-7", "raw-correlation", Ev.T0));
            await p.SendAsync(topics.Orders, Pool, Ev.Placed(Pool, Ev.Order("o-7", ("l1", "SKU-1", 1)), Ev.T0.AddSeconds(1), causation: "dlv-7"));
            await p.SendAsync(topics.Allocations, Pool, Ev.Allocated(Pool, "o-7", Ev.T0.AddSeconds(2), ("l1", "SKU-1", "WH1", 1)));
            await p.SendAsync(topics.Shipments, Pool, Ev.Shipped(Pool, "o-7", "s-7", "WH1", Ev.T0.AddSeconds(3), ("l1", "SKU-1", 1)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, "o-7", "s-7", 1, PushOutcome.Failed, Ev.T0.AddSeconds(4)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, "o-7", "s-7", 2, PushOutcome.Pushed, Ev.T0.AddSeconds(5)));
            await p.SendAsync(topics.Orders, "pool-b", Ev.Placed("pool-b", Ev.Order("o-8", ("l1", "SKU-1", 1)), Ev.T0));
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(options);

        var timeline = await AuditTimeline.ForOrderAsync(env.DataSource, options.Schema, "o-7", pools: null, CancellationToken.None);
        timeline.Select(e => e.Kind).ShouldBe(["RawDelivery", "OrderPlaced", "AllocationDecided", "ShipmentConfirmed", "ChannelPushFailed", "ChannelPushPushed"]);
        timeline[0].SourceSystem.ShouldBe("shopify");
        timeline[2].Summary.ShouldContain("ClosestLocation: WH1");
        (await AuditTimeline.ForOrderAsync(env.DataSource, options.Schema, "o-7", ["pool-b"], CancellationToken.None)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Migrations_AppliedTwiceAndConcurrently_LeaveOneCopyOfEachScript()
    {
        var schema = SinkEnvironment.UniqueSchema("m");
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => env.MigrateAsync(schema)));
        await env.MigrateAsync(schema);

        await using var db = await env.DataSource.OpenConnectionAsync();
        (await db.QueryAsync<string>($"SELECT name FROM {schema}.schema_migrations ORDER BY name"))
            .ShouldBe(["001_views.sql", "002_drop_events_causation.sql", "003_audit_track_offsets.sql", "004_bundles_channel_locations_pool_settings_movements.sql", "005_allocation_snapshots.sql", "006_stock_levels_processor_order.sql", "007_version_ids_byte_order.sql"]);
        (await db.QuerySingleAsync<long>("SELECT count(*) FROM information_schema.tables WHERE table_schema = @schema AND table_name = 'orders'", new { schema })).ShouldBe(1);
    }

    [Theory]
    [InlineData("Views")]
    [InlineData("views; DROP TABLE x")]
    [InlineData("")]
    public void SchemaName_NotAPlainLowerCaseIdentifier_IsRefused(string schema) =>
        Should.Throw<ArgumentException>(() => SchemaMigrator.CheckSchemaName(schema));
}
