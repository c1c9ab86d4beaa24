using System.Diagnostics;
using Confluent.Kafka;
using Dapper;
using Fulfillment.Schemas.Stock;
using Fulfillment.Sinks.Views.Durable;
using Fulfillment.Sinks.Views.Replay;
using Fulfillment.Sinks.Views.Tests.Infrastructure;
using Fulfillment.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Fulfillment.Sinks.Views.Tests;

/// <summary>Exactly-once across a SIGKILL, replay --verify at volume, and re-seeding an empty broker.</summary>
[Collection(SinkCollection.Name)]
public sealed class CrashAndReplayTests(SinkEnvironment env, ITestOutputHelper output)
{
    /// <param name="processorFlows">Also the inventory processor's multi-decision flows (allocation id = order id): every
    /// fourth order backordered and filled at the 3PL later, every fourth re-allocated by an order update.</param>
    private static async Task<int> ProduceOrdersAsync(SinkEnvironment.EventProducer p, ViewTopics topics, int orders, int pools = 40, bool processorFlows = false)
    {
        var sent = 0;
        for (var i = 0; i < orders; i++)
        {
            var pool = $"pool-{i % pools}";
            var id = $"o-{i}";
            var at = Ev.T0.AddMilliseconds(i);
            var sku = $"SKU-{i % 97}";
            var location = i % 3 == 0 ? "WH2" : "WH1";
            var quantity = 1 + (i % 3);
            if (processorFlows && i % 4 == 1)
            {
                await p.SendAsync(topics.Orders, pool, Ev.Placed(pool, Ev.Order(id, ("l1", sku, 3)), at));
                await p.SendAsync(topics.Allocations, pool, Ev.Decided(pool, id, $"in-{i}/0", at.AddSeconds(1), ("l1", sku, "WH1", 1)));
                await p.SendAsync(topics.Allocations, pool, Ev.Backordered(pool, id, at.AddSeconds(1), "l1", sku, 2));
                await p.SendAsync(topics.Allocations, pool, Ev.Decided(pool, id, $"rcv-{i}/0", at.AddSeconds(3), ("l1", sku, "WH1", 1), ("l1", sku, "3pl-shipbob", 2)));
                sent += 4;
            }
            else if (processorFlows && i % 4 == 3)
            {
                await p.SendAsync(topics.Orders, pool, Ev.Placed(pool, Ev.Order(id, ("l1", sku, quantity)), at));
                await p.SendAsync(topics.Allocations, pool, Ev.Decided(pool, id, $"in-{i}/0", at.AddSeconds(1), ("l1", sku, "WH1", quantity)));
                await p.SendAsync(topics.Allocations, pool, Ev.Released(pool, id, $"upd-{i}/0", at.AddSeconds(2), Schemas.Allocations.ReleaseReason.OrderChanged, ("l1", sku, "WH1", quantity)));
                await p.SendAsync(topics.Allocations, pool, Ev.Decided(pool, id, $"upd-{i}/1", at.AddSeconds(2), ("l1", sku, "WH2", quantity)));
                sent += 4;
            }
            else
            {
                await p.SendAsync(topics.Orders, pool, Ev.Placed(pool, Ev.Order(id, ("l1", sku, quantity)), at));
                await p.SendAsync(topics.Allocations, pool, Ev.Allocated(pool, id, at.AddSeconds(1), ("l1", sku, location, quantity)));
                sent += 2;
            }

            if (i % 2 == 0)
            {
                await p.SendAsync(topics.Shipments, pool, Ev.Shipped(pool, id, $"s-{i}", location, at.AddSeconds(2), ("l1", sku, quantity)));
                sent++;
            }

            if (i % 5 == 0)
            {
                await p.SendAsync(topics.StockLevels, pool, Ev.Level(pool, sku, location, 1000 - (i % 50), i % 7, at.AddSeconds(1), $"lvl-{i}"));
                sent++;
            }
        }

        p.Flush();
        return sent;
    }

    private async Task<long> StoredOffsetsAsync(string schema)
    {
        await using var db = await env.DataSource.OpenConnectionAsync();
        return await db.QuerySingleAsync<long>(
            $"SELECT COALESCE(sum(next_offset), 0)::bigint FROM {schema}.sink_offsets WHERE consumer = 'views-sink'");
    }

    private ProcessRunner StartSinkProcess(ViewsSinkOptions options)
    {
        var environment = new Dictionary<string, string?>
        {
            ["Kafka__BootstrapServers"] = env.BootstrapServers,
            ["Kafka__SchemaRegistryUrl"] = env.RegistryUrl,
            ["Postgres__ConnectionString"] = env.Database.ConnectionString,
            ["ViewsSink__Schema"] = options.Schema,
            ["ViewsSink__GroupId"] = options.GroupId,
            ["ViewsSink__MaxBatch"] = $"{options.MaxBatch}",
            ["ViewsSink__SessionTimeoutMs"] = "3000",
            ["Logging__LogLevel__Default"] = "Information",
        };
        foreach (var (kind, name) in options.Topics.All())
        {
            environment[$"ViewsSink__Topics__{kind}"] = name;
        }

        return ProcessRunner.Start(Path.Combine(AppContext.BaseDirectory, "Fulfillment.Sinks.Views"), ["--urls", "http://127.0.0.1:0"], environment);
    }

    [Fact]
    public async Task SinkProcess_SigkilledMidRunAndRestarted_ViewsEqualUninterruptedRun()
    {
        var topics = env.CreateTopics(partitions: 6);
        int total;
        using (var p = env.Producer())
        {
            total = await ProduceOrdersAsync(p, topics, 8000, processorFlows: true);
        }

        var crashed = SinkEnvironment.Options(topics, maxBatch: 300);
        long atKill;
        using (var first = StartSinkProcess(crashed))
        {
            await first.WaitForLineAsync(l => l.Contains("assigned", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            var clock = Stopwatch.StartNew();
            while ((atKill = await StoredOffsetsAsync(crashed.Schema)) < total / 4 && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(20);
            }

            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        atKill = await StoredOffsetsAsync(crashed.Schema);
        output.WriteLine($"killed with {atKill} of {total} records committed");
        atKill.ShouldBeGreaterThan(0);
        atKill.ShouldBeLessThan(total, "the kill came too late to interrupt the run");

        using (var second = StartSinkProcess(crashed))
        {
            var clock = Stopwatch.StartNew();
            while (await StoredOffsetsAsync(crashed.Schema) < total && clock.Elapsed < TimeSpan.FromSeconds(120))
            {
                await Task.Delay(100);
            }

            second.Terminate();
            (await second.WaitForExitAsync(TimeSpan.FromSeconds(30))).ShouldBe(0, second.Output);
        }

        (await StoredOffsetsAsync(crashed.Schema)).ShouldBe(total);
        var clean = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(clean);
        await using var db = await env.DataSource.OpenConnectionAsync();
        (await ViewDiff.CompareAsync(db, crashed.Schema, clean.Schema)).ShouldBeEmpty();
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {crashed.Schema}.orders")).ShouldBe(8000);
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {crashed.Schema}.events")).ShouldBe(total);
        // The backordered orders filled at the 3PL are allocated, with the fill's lines (what the drills found missing).
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {crashed.Schema}.orders WHERE status = 'backordered'")).ShouldBe(0);
        (await db.QuerySingleAsync<long>($"SELECT count(DISTINCT order_id) FROM {crashed.Schema}.allocation_lines WHERE location_id = '3pl-shipbob'")).ShouldBe(2000);
    }

    [Fact]
    public async Task ReplayVerify_FiftyThousandOrders_ReportsNoDifferenceThenDetectsCorruptedRow()
    {
        var topics = env.CreateTopics(partitions: 12);
        int total;
        var clock = Stopwatch.StartNew();
        using (var p = env.Producer())
        {
            total = await ProduceOrdersAsync(p, topics, 50_000);
        }

        output.WriteLine($"produced {total} records in {clock.Elapsed}");
        var live = SinkEnvironment.Options(topics);
        clock.Restart();
        await env.RunToEndAsync(live);
        output.WriteLine($"live views built in {clock.Elapsed}");

        clock.Restart();
        var report = await ReplayVerifier.VerifyAsync(env.DataSource, env.BootstrapServers, new EventDecoder(env.Registry), live,
            keepSchema: false, NullLogger.Instance, CancellationToken.None);
        output.WriteLine($"replayed {report.RecordsReplayed} records and diffed in {clock.Elapsed}");
        report.RecordsReplayed.ShouldBe(total);
        report.Differences.ShouldBeEmpty();
        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {live.Schema}.orders")).ShouldBe(50_000);
            (await db.QuerySingleAsync<long>("SELECT count(*) FROM information_schema.schemata WHERE schema_name = @s", new { s = report.ReplaySchema })).ShouldBe(0);
            await db.ExecuteAsync($"UPDATE {live.Schema}.orders SET status = 'cancelled' WHERE order_id = 'o-4242'");
        }

        var corrupted = await ReplayVerifier.VerifyAsync(env.DataSource, env.BootstrapServers, new EventDecoder(env.Registry), live,
            keepSchema: false, NullLogger.Instance, CancellationToken.None);
        corrupted.Differences.Count.ShouldBe(2);
        corrupted.Differences.ShouldAllBe(d => d.Table == "orders" && d.RowJson.Contains("\"o-4242\""));
        corrupted.Differences.Single(d => d.Side == live.Schema).RowJson.ShouldContain("\"cancelled\"");
    }

    [Fact]
    public async Task Reseed_EmptyBrokerAfterRestart_ReproducesArchivedRecordsAndViewsRebuildIdentical()
    {
        var before = env.CreateTopics(partitions: 3);
        using (var p = env.Producer())
        {
            await p.SendAsync(before.RawIngest, "pool-a", Ev.Raw("pool-a", "dlv-1", "o-1", Ev.T0));
            await p.SendAsync(before.OperatorCommands, "pool-a", Ev.Command("pool-a", "cmd-1", "t-1", Ev.T0, Ev.TransferRequest("t-1", 3)));
            await p.SendAsync(before.ChannelPushOutcomes, "pool-a", Ev.Push("pool-a", "o-1", "s-1", 1, Schemas.ChannelPush.PushOutcome.Pushed, Ev.T0));
            await p.SendAsync(before.StockLevels, "pool-a", Ev.Level("pool-a", "SKU-1", "WH1", 4, 0, Ev.T0));
            p.Flush();
        }

        var live = SinkEnvironment.Options(before);
        await env.RunToEndAsync(live);

        // A restarted development broker: same topic names, nothing on them. Simulated with fresh topics whose names
        // the archive is re-pointed to, since the shared broker cannot be restarted under the other tests.
        var after = env.CreateTopics(partitions: 3);
        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            foreach (var ((_, oldName), (_, newName)) in before.All().Zip(after.All()))
            {
                await db.ExecuteAsync("UPDATE durable.topic_archive SET topic = @newName WHERE topic = @oldName", new { oldName, newName });
                await db.ExecuteAsync($"UPDATE {live.Schema}.sink_offsets SET topic = @newName WHERE topic = @oldName", new { oldName, newName });
                await db.ExecuteAsync($"UPDATE {live.Schema}.events SET topic = @newName WHERE topic = @oldName", new { oldName, newName });
            }
        }

        live.Topics = after;
        var report = await Reseeder.ReseedAsync(env.DataSource, env.BootstrapServers, live, CancellationToken.None);

        report.OffsetsReset.ShouldBeTrue();
        report.Produced.ShouldBe(new Dictionary<string, int> { [after.RawIngest] = 1, [after.OperatorCommands] = 1, [after.ChannelPushOutcomes] = 1 }, ignoreOrder: true);
        var again = await Reseeder.ReseedAsync(env.DataSource, env.BootstrapServers, live, CancellationToken.None);
        again.Produced.ShouldBeEmpty();
        // Other tests' archived topics share the durable schema; ours must be among the skipped, non-empty ones.
        new[] { after.RawIngest, after.OperatorCommands, after.ChannelPushOutcomes }.ShouldBeSubsetOf(again.SkippedTopics);

        // The processor re-derives stock levels from the re-seeded inputs; here it is played by producing the same event.
        using (var p = env.Producer())
        {
            await p.SendAsync(after.StockLevels, "pool-a", Ev.Level("pool-a", "SKU-1", "WH1", 4, 0, Ev.T0));
            p.Flush();
        }

        var snapshot = SinkEnvironment.UniqueSchema("snap");
        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            await db.ExecuteAsync($"CREATE SCHEMA {snapshot}");
            foreach (var table in new[] { "events", "transfers", "transfer_lines", "channel_pushes", "channel_push_attempts", "stock_levels" })
            {
                await db.ExecuteAsync($"CREATE TABLE {snapshot}.{table} AS SELECT * FROM {live.Schema}.{table}");
            }
        }

        var sink = env.Sink(live);
        await sink.RunToAsync(env.EndOffsets(after), CancellationToken.None);

        sink.RecordsWritten.ShouldBe(4);
        await using var check = await env.DataSource.OpenConnectionAsync();
        foreach (var table in new[] { "events", "transfers", "transfer_lines", "channel_pushes", "channel_push_attempts" })
        {
            (await check.QuerySingleAsync<long>(
                $"SELECT count(*) FROM ((SELECT * FROM {live.Schema}.{table} EXCEPT SELECT * FROM {snapshot}.{table}) UNION ALL (SELECT * FROM {snapshot}.{table} EXCEPT SELECT * FROM {live.Schema}.{table})) d"))
                .ShouldBe(0, table);
        }

        (await check.QuerySingleAsync<long>($"SELECT count(*) FROM {live.Schema}.stock_levels WHERE on_hand = 4")).ShouldBe(1);
        (await check.QuerySingleAsync<long>("SELECT count(*) FROM durable.topic_archive WHERE topic = ANY(@t)", new { t = after.All().Select(t => t.Name).ToArray() })).ShouldBe(3);
    }
}
