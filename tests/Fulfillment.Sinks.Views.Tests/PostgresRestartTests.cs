using System.Diagnostics;
using Dapper;
using Fulfillment.Sinks.Views.Replay;
using Fulfillment.Sinks.Views.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Xunit.Abstractions;

namespace Fulfillment.Sinks.Views.Tests;

/// <summary>
/// The views sink across a restart of its Postgres server (issue 6's restart-Postgres drill): it retries instead of
/// stopping, and the views end exactly as an uninterrupted run's. On a cluster of the test's own: the shared one serves
/// every other test. Long-ish (~30-60 s on a loaded 2-core machine: initdb, two server starts, 6,000 orders).
/// </summary>
[Collection(SinkCollection.Name)]
public sealed class PostgresRestartTests(SinkEnvironment env, ITestOutputHelper output)
{
    [Fact]
    public async Task Sink_PostgresRestartedMidRun_RetriesAndViewsEqualUninterruptedRun()
    {
        await using var cluster = await ThrowawayPostgres.StartAsync();
        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
        var topics = env.CreateTopics(partitions: 4);
        var live = SinkEnvironment.Options(topics, maxBatch: 200);
        await SchemaMigrator.MigrateAllAsync(dataSource, live.Schema, CancellationToken.None);

        var total = 0;
        using var producer = env.Producer();
        total += await ProduceAsync(producer, topics, 0, 3000);

        var sink = new ViewsSink(live, env.BootstrapServers, dataSource, new EventDecoder(env.Registry), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => sink.RunAsync(stop.Token));
        try
        {
            await WaitForAsync(() => StoredAsync(dataSource, live.Schema), n => n > 0, run, TimeSpan.FromSeconds(90));

            // Stopped while the sink writes; records keep arriving while the server is down, then it comes back.
            await cluster.StopServerAsync();
            total += await ProduceAsync(producer, topics, 3000, 3000);
            await Task.Delay(TimeSpan.FromSeconds(2));
            run.IsCompleted.ShouldBeFalse(run.Exception?.ToString());
            await cluster.StartServerAsync();

            var stored = await WaitForAsync(() => StoredAsync(dataSource, live.Schema), n => n >= total, run, TimeSpan.FromSeconds(120));
            stored.ShouldBe(total);
            output.WriteLine($"{sink.TransientRetries} transient errors retried, {sink.BatchesWritten} batches, {sink.RecordsWritten} records written");
            sink.TransientRetries.ShouldBeGreaterThan(0);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }

        var clean = SinkEnvironment.Options(topics);
        await SchemaMigrator.MigrateAllAsync(dataSource, clean.Schema, CancellationToken.None);
        clean.Archive = false;
        var rebuild = new ViewsSink(clean, env.BootstrapServers, dataSource, new EventDecoder(env.Registry), NullLogger.Instance);
        await rebuild.RunToAsync(env.EndOffsets(topics), CancellationToken.None);

        await using var db = await dataSource.OpenConnectionAsync();
        var differences = await ViewDiff.CompareAsync(db, live.Schema, clean.Schema);
        differences.ShouldBeEmpty(string.Join("\n", differences.Take(20).Select(d => $"{d.Table} {d.Side}: {d.RowJson}")));
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {live.Schema}.orders")).ShouldBe(6000);
        (await db.QuerySingleAsync<long>($"SELECT count(*) FROM {live.Schema}.events")).ShouldBe(total);
    }

    private static async Task<int> ProduceAsync(SinkEnvironment.EventProducer p, ViewTopics topics, int from, int count)
    {
        var sent = 0;
        for (var i = from; i < from + count; i++)
        {
            var pool = $"pool-{i % 8}";
            var id = $"o-{i}";
            var at = Ev.T0.AddMilliseconds(i);
            var sku = $"SKU-{i % 31}";
            await p.SendAsync(topics.Orders, pool, Ev.Placed(pool, Ev.Order(id, ("l1", sku, 3)), at));
            await p.SendAsync(topics.Allocations, pool, Ev.Decided(pool, id, $"in-{i}/0", at.AddSeconds(1), ("l1", sku, "WH1", 1)));
            await p.SendAsync(topics.Allocations, pool, Ev.Decided(pool, id, $"rcv-{i}/0", at.AddSeconds(2), ("l1", sku, "WH1", 1), ("l1", sku, "3pl-shipbob", 2)));
            await p.SendAsync(topics.StockLevels, pool, Ev.Level(pool, sku, "WH1", 1000 - (i % 50), i % 7, at.AddSeconds(1), $"lvl-{i}"));
            sent += 4;
        }

        p.Flush();
        return sent;
    }

    private static async Task<long> StoredAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var db = await dataSource.OpenConnectionAsync();
        return await db.QuerySingleAsync<long>($"SELECT COALESCE(sum(next_offset), 0)::bigint FROM {schema}.sink_offsets WHERE consumer = 'views-sink'");
    }

    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/>; fails early if the sink stopped. Reads fail
    /// while the server is down or starting; those polls just come again.</summary>
    private static async Task<long> WaitForAsync(Func<Task<long>> read, Func<long, bool> done, Task sink, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var last = -1L;
        while (clock.Elapsed < timeout)
        {
            if (sink.IsCompleted)
            {
                await sink;
                throw new InvalidOperationException("The sink stopped.");
            }

            try
            {
                last = await read();
                if (done(last))
                {
                    return last;
                }
            }
            catch (NpgsqlException)
            {
            }

            await Task.Delay(100);
        }

        return last;
    }
}
