using System.Text.Json;
using Confluent.Kafka;
using Dapper;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Sinks.Views;
using Fulfillment.Sinks.Views.Tests.Infrastructure;

namespace Fulfillment.Cli.Tests;

/// <summary>The verbs against real parts: the development broker, our registry, Postgres, and views written by the real
/// sink. The CLI gets exactly the environment <c>ops/fulfillment</c> gives it (connection settings plus the sink's own
/// topic names).</summary>
public sealed class StackTests(SinkEnvironment env) : IClassFixture<SinkEnvironment>
{
    private const string Pool = "pool-a";

    private Dictionary<string, string?> Environment(ViewsSinkOptions options)
    {
        var variables = new Dictionary<string, string?>
        {
            ["Kafka__BootstrapServers"] = env.BootstrapServers,
            ["Kafka__SchemaRegistryUrl"] = env.RegistryUrl,
            ["Postgres__ConnectionString"] = env.Database.ConnectionString,
            ["ViewsSink__Schema"] = options.Schema,
            ["ViewsSink__Consumer"] = options.Consumer,
        };
        foreach (var (kind, name) in options.Topics.All())
        {
            variables[$"ViewsSink__Topics__{kind}"] = name;
        }

        return variables;
    }

    /// <summary>One order's life on every topic it touches, written to the views by the sink.</summary>
    private async Task<ViewsSinkOptions> SeedOrderAsync(string orderId)
    {
        var topics = env.CreateTopics();
        using (var p = env.Producer())
        {
            await p.SendAsync(topics.RawIngest, Pool, Ev.Raw(Pool, $"dlv-{orderId}", orderId, Ev.T0));
            await p.SendAsync(topics.Orders, Pool, Ev.Placed(Pool, Ev.Order(orderId, ("l1", "SKU-1", 2)), Ev.T0.AddSeconds(1), causation: $"dlv-{orderId}"));
            await p.SendAsync(topics.Allocations, Pool, Ev.Allocated(Pool, orderId, Ev.T0.AddSeconds(2), ("l1", "SKU-1", "WH1", 2)));
            await p.SendAsync(topics.Shipments, Pool, Ev.Shipped(Pool, orderId, $"s-{orderId}", "WH1", Ev.T0.AddSeconds(3), ("l1", "SKU-1", 2)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, orderId, $"s-{orderId}", 1, PushOutcome.Retrying, Ev.T0.AddSeconds(4)));
            await p.SendAsync(topics.ChannelPushOutcomes, Pool, Ev.Push(Pool, orderId, $"s-{orderId}", 2, PushOutcome.Pushed, Ev.T0.AddSeconds(5)));
            await p.SendAsync(topics.StockLevels, Pool, Ev.Level(Pool, "SKU-1", "WH1", 8, 0, Ev.T0.AddSeconds(3)));
            await p.SendAsync(topics.OperatorCommands, Pool, Ev.Command(Pool, $"cmd-{orderId}", "t-1", Ev.T0, Ev.TransferRequest("t-1", 3)));
            p.Flush();
        }

        var options = SinkEnvironment.Options(topics);
        await env.RunToEndAsync(options);
        return options;
    }

    [Fact]
    public async Task AuditOrder_SeededOrder_PrintsTimelineFromRawDeliveryToPushesWithTimesAndSources()
    {
        var options = await SeedOrderAsync("o-aud");

        var result = await CliRun.RunAsync(Environment(options), "audit", "order", "o-aud");

        result.ExitCode.ShouldBe(0, result.Error);
        var lines = result.OutputLines;
        lines[0].ShouldBe("order o-aud: 6 events (pool pool-a)");
        lines.Skip(1).Select(l => l.Split("  ")[1].Trim()).ShouldBe(
            ["RawDelivery", "OrderPlaced", "AllocationDecided", "ShipmentConfirmed", "ChannelPushRetrying", "ChannelPushPushed"]);
        lines[1].ShouldStartWith("2026-11-20T09:00:00.000Z");
        lines[1].ShouldContain($"shopify/dlv-o-aud  [{options.Topics.RawIngest}, recorded 09:00:00.000]");
        lines[3].ShouldStartWith("2026-11-20T09:00:02.000Z");
        lines[3].ShouldContain("inventory-processor/alloc-o-aud");
        lines[3].ShouldContain("ClosestLocation: WH1");
        lines[4].ShouldContain("operator/ship-s-o-aud");
        lines[6].ShouldContain("channel-push/push-s-o-aud-2");
    }

    [Fact]
    public async Task AuditOrderJson_SeededOrder_EntriesCarryRuleTrailAndSources_UnknownOrderExit1()
    {
        var options = await SeedOrderAsync("o-json");
        var variables = Environment(options);

        var json = await CliRun.RunAsync(variables, "audit", "order", "o-json", "--json");
        var missing = await CliRun.RunAsync(variables, "audit", "order", "o-nope");

        json.ExitCode.ShouldBe(0, json.Error);
        var entries = JsonDocument.Parse(json.Output).RootElement.EnumerateArray().ToList();
        entries.Count.ShouldBe(6);
        entries[0].GetProperty("SourceSystem").GetString().ShouldBe("shopify");
        entries[1].GetProperty("CausationId").GetString().ShouldBe("dlv-o-json");
        entries[2].GetProperty("Summary").GetProperty("rule_trail").GetArrayLength().ShouldBe(2);
        entries.Select(e => e.GetProperty("OccurredAt").GetDateTime()).ShouldBeInOrder();
        missing.ExitCode.ShouldBe(1);
        missing.Output.ShouldContain($"order o-nope: no events in schema {options.Schema}");
    }

    [Fact]
    public async Task ReplayVerify_UntouchedViews_Exit0ZeroDifferences_CorruptedRowExit1AndListed()
    {
        var options = await SeedOrderAsync("o-rep");
        var variables = Environment(options);

        var clean = await CliRun.RunAsync(variables, "replay", "--verify");
        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            await db.ExecuteAsync($"UPDATE {options.Schema}.stock_levels SET on_hand = 9 WHERE sku = 'SKU-1'");
        }

        var corrupted = await CliRun.RunAsync(variables, "replay", "--verify");

        clean.ExitCode.ShouldBe(0, clean.Output + clean.Error);
        clean.OutputLines.Single().ShouldContain($"0 difference(s) against {options.Schema}");
        corrupted.ExitCode.ShouldBe(1);
        corrupted.OutputLines[0].ShouldContain($"2 difference(s) against {options.Schema}");
        corrupted.OutputLines.ShouldContain(l => l.StartsWith($"stock_levels: only in {options.Schema}:", StringComparison.Ordinal) && l.Contains("\"on_hand\":9"));
        corrupted.OutputLines.ShouldContain(l => l.StartsWith("stock_levels: only in replay_", StringComparison.Ordinal) && l.Contains("\"on_hand\":8"));
    }

    [Fact]
    public async Task Reseed_EmptyBroker_ReproducesRawDeliveriesAndCommandsFromPostgres_SecondRunChangesNothing()
    {
        var options = await SeedOrderAsync("o-seed");
        // A restarted development broker: the same names with nothing on them, played by fresh topics the durable copies
        // and stored positions are re-pointed to (the shared broker cannot restart under the other tests).
        var empty = env.CreateTopics();
        await using (var db = await env.DataSource.OpenConnectionAsync())
        {
            foreach (var ((_, oldName), (_, newName)) in options.Topics.All().Zip(empty.All()))
            {
                await db.ExecuteAsync("UPDATE durable.topic_archive SET topic = @newName WHERE topic = @oldName", new { oldName, newName });
                await db.ExecuteAsync($"UPDATE {options.Schema}.sink_offsets SET topic = @newName WHERE topic = @oldName", new { oldName, newName });
            }
        }

        options.Topics = empty;
        var variables = Environment(options);

        var first = await CliRun.RunAsync(variables, "reseed");
        var second = await CliRun.RunAsync(variables, "reseed");

        first.ExitCode.ShouldBe(0, first.Error);
        first.OutputLines.ShouldContain($"reseed: {empty.RawIngest}: 1 record(s) re-produced");
        first.OutputLines.ShouldContain($"reseed: {empty.OperatorCommands}: 1 record(s) re-produced");
        first.OutputLines.ShouldContain($"reseed: {empty.ChannelPushOutcomes}: 2 record(s) re-produced");
        first.OutputLines.ShouldContain("reseed: views sink positions reset (the broker had lost its records); the sink re-reads from the start");
        second.ExitCode.ShouldBe(0, second.Error);
        second.OutputLines.ShouldNotContain(l => l.Contains("re-produced", StringComparison.Ordinal));
        second.OutputLines.ShouldContain($"reseed: {empty.RawIngest}: broker already has records, left alone");
        second.OutputLines.ShouldContain("reseed: views sink positions kept");
        RecordsOn(empty.RawIngest).ShouldBe(1);
        RecordsOn(empty.OperatorCommands).ShouldBe(1);
        RecordsOn(empty.ChannelPushOutcomes).ShouldBe(2);

        // The re-seeded records are the originals byte for byte: the sink reading them again changes no row.
        var before = await SnapshotAsync(options.Schema);
        await env.Sink(options).RunToAsync(env.EndOffsets(empty), CancellationToken.None);
        (await SnapshotAsync(options.Schema)).ShouldBe(before);
    }

    private long RecordsOn(string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = env.BootstrapServers }).Build();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = env.BootstrapServers, GroupId = "cli-tests-probe" }).Build();
        return admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions
            .Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p.PartitionId), TimeSpan.FromSeconds(10)).High.Value);
    }

    private async Task<string> SnapshotAsync(string schema)
    {
        await using var db = await env.DataSource.OpenConnectionAsync();
        var rows = new List<string>();
        foreach (var table in new[] { "events", "transfers", "transfer_lines", "channel_pushes", "channel_push_attempts" })
        {
            rows.AddRange(await db.QueryAsync<string>(
                $"SELECT '{table} ' || (to_jsonb(t) - 'sunk_at' - 'topic')::text FROM {schema}.{table} t ORDER BY 1"));
        }

        return string.Join('\n', rows);
    }
}
