using Fulfillment.Testing;
using Npgsql;

namespace Fulfillment.Demo.Tests;

/// <summary>The e2e bench's parts that decide what it reports: the visibility probe (real Postgres), the hold rule of
/// the step search, CPU per order less idle, and reading backlog gauges from a metrics page.</summary>
public sealed class E2eBenchTests
{
    [Fact]
    public async Task VisibilityProbe_UpsertsLikeTheSink_ReportsEachNewlyInsertedOrderOnceAndCleansUp()
    {
        await using var db = await PostgresDatabase.CreateAsync("e2e_probe");
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        await ExecAsync(dataSource, """
            CREATE SCHEMA views;
            CREATE TABLE views.allocation_decisions (allocation_id text PRIMARY KEY, order_id text NOT NULL, v int NOT NULL);
            CREATE TABLE views.backorders (order_id text, line_id text, v int NOT NULL, PRIMARY KEY (order_id, line_id));
            INSERT INTO views.allocation_decisions VALUES ('before', 'before', 1);
            """);

        await using (var probe = await VisibilityProbe.InstallAsync(dataSource, "views", CancellationToken.None))
        {
            (await probe.NewlyVisibleAsync(CancellationToken.None)).ShouldBeEmpty();
            const string Upsert = """
                INSERT INTO views.allocation_decisions SELECT * FROM unnest(@a::text[], @o::text[], @v::int[])
                ON CONFLICT (allocation_id) DO UPDATE SET v = excluded.v WHERE allocation_decisions.v < excluded.v
                """;
            await ExecAsync(dataSource, Upsert, ("a", new[] { "o1", "o2" }), ("o", new[] { "o1", "o2" }), ("v", new[] { 1, 1 }));
            await ExecAsync(dataSource, "INSERT INTO views.backorders VALUES ('o3', '1', 1), ('o3', '2', 1)");

            (await probe.NewlyVisibleAsync(CancellationToken.None)).ShouldBe(["o1", "o2", "o3", "o3"]);

            // A newer decision of o1 updates its row: not a first appearance, so nothing new.
            await ExecAsync(dataSource, Upsert, ("a", new[] { "o1", "o4" }), ("o", new[] { "o1", "o4" }), ("v", new[] { 2, 1 }));
            (await probe.NewlyVisibleAsync(CancellationToken.None)).ShouldBe(["o4"]);

            // Rows of a transaction that has not committed are not visible yet.
            await using var c = await dataSource.OpenConnectionAsync();
            await using var tx = await c.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand("INSERT INTO views.allocation_decisions VALUES ('o5', 'o5', 1)", c, tx))
            {
                await insert.ExecuteNonQueryAsync();
            }

            (await probe.NewlyVisibleAsync(CancellationToken.None)).ShouldBeEmpty();
            await tx.CommitAsync();
            (await probe.NewlyVisibleAsync(CancellationToken.None)).ShouldBe(["o5"]);
        }

        await using var check = await dataSource.OpenConnectionAsync();
        await using var left = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname = 'bench_e2e_visible') + (SELECT count(*) FROM pg_namespace WHERE nspname = 'bench_e2e')", check);
        ((long)(await left.ExecuteScalarAsync())!).ShouldBe(0);
    }

    [Fact]
    public async Task VisibilityProbe_SchemaNameWithSql_Refused()
    {
        await using var dataSource = NpgsqlDataSource.Create(PostgresDatabase.ServerConnectionString);
        await Should.ThrowAsync<ArgumentException>(() => VisibilityProbe.InstallAsync(dataSource, "views; drop table x", CancellationToken.None));
    }

    [Theory]
    [InlineData(1000, 1000, 0, 30, 200, true)]
    [InlineData(1000, 1000, 0, 30, 250, false)] // p99 at the limit does not hold
    [InlineData(1000, 999, 0, 30, 200, false)] // an order never became visible
    [InlineData(1000, 999, 1, 30, 200, false)] // one not accepted
    [InlineData(1000, 1000, 0, 40, 200, false)] // the sender fell behind: 25/s of 30/s
    public void Held_NeedsEveryOrderVisibleTheSenderOnRateAndP99UnderTheLimit(long measured, long seen, long notAccepted, double sendSeconds, double p99, bool held)
    {
        var latencies = Enumerable.Repeat(10.0, 98).Append(p99).Append(p99).ToArray();
        var r = new E2eResult(measured, seen, notAccepted, 30, latencies, sendSeconds) { TargetRate = 1000 / 30.0 };

        r.Held(250).ShouldBe(held);
    }

    [Fact]
    public void PerOrderSince_SubtractsIdleCpuOfTheSpan()
    {
        var before = new CpuSnapshot(new Dictionary<string, double> { ["views-sink"] = 10, ["postgres"] = 5 });
        var after = new CpuSnapshot(new Dictionary<string, double> { ["views-sink"] = 12, ["postgres"] = 5.1, ["new"] = 3 });

        var perOrder = after.PerOrderSince(before, 1000, 10, new Dictionary<string, double> { ["views-sink"] = 0.05, ["postgres"] = 0.02 });

        // views-sink: 2 s - 0.5 s idle = 1.5 ms per order; postgres: 0.1 s - 0.2 s idle, never below 0; "new" had no start.
        perOrder.ShouldBe([("views-sink", 1500.0), ("postgres", 0.0)]);
        after.RateSince(before, 10)["views-sink"].ShouldBe(0.2, 1e-9);
    }

    [Fact]
    public void SumOf_AddsEveryLabelledSampleOfExactlyThatMetric()
    {
        const string Page = """
            # HELP fulfillment_views_sink_consumer_lag_records Records behind.
            # TYPE fulfillment_views_sink_consumer_lag_records gauge
            fulfillment_views_sink_consumer_lag_records{topic="a",partition="0"} 12
            fulfillment_views_sink_consumer_lag_records{topic="b",partition="3"} 30.5
            fulfillment_views_sink_consumer_lag_records_total 1000
            fulfillment_connector_publish_backlog_deliveries 7
            """;

        StackObserver.SumOf(Page, "fulfillment_views_sink_consumer_lag_records").ShouldBe(42.5);
        StackObserver.SumOf(Page, "fulfillment_connector_publish_backlog_deliveries").ShouldBe(7);
        StackObserver.SumOf(Page, "fulfillment_runtime_consumer_lag_records").ShouldBeNull();
    }

    [Fact]
    public void Cpu_OwnProcess_CountsTheDriver()
    {
        var cpu = StackObserver.None.Cpu();

        cpu.Seconds.ShouldContainKey("driver");
        cpu.Seconds.Count.ShouldBe(1);
    }

    private static async Task ExecAsync(NpgsqlDataSource dataSource, string sql, params (string Name, object Value)[] parameters)
    {
        await using var c = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, c);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }
}
