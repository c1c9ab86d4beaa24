using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Dapper;
using Fulfillment.DevBroker;
using Fulfillment.Hosting;
using Fulfillment.SchemaRegistry;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Stock;
using Fulfillment.Schemas.Topics;
using Fulfillment.Sinks.Views;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fulfillment.Cli;

/// <summary>
/// bench freshness: how old a stock-level change is when it becomes visible in Postgres, with the views sink running
/// its shipped settings under a steady order stream. Self-contained: an in-process development broker, our registry
/// and two throw-away databases on the project Postgres. Each order event is followed by the stock-level change an
/// inventory processor would emit for it, stamped with the wall clock at produce time (occurred_at); a poller sees
/// each change appear (committed) in <c>stock_levels</c> — the row availability answers from — and records the age.
/// The poll interval (10 ms) is counted in, so the figure is an upper bound. CPU: this process (producer, broker,
/// registry and sink together) and the Postgres backends of the views database, per order event.
/// </summary>
public static class FreshnessBench
{
    private const string ViewsSchema = "views";

    public static async Task<int> RunAsync(int seconds, int rate, TextWriter output, Action<ViewsSinkOptions>? tune = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var server = Environment.GetEnvironmentVariable("FULFILLMENT_TEST_PG") is { Length: > 0 } s ? s
            : "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres";
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var registryDb = $"bench_registry_{suffix}";
        var viewsDb = $"bench_views_{suffix}";
        await ExecAsync(server, $"CREATE DATABASE {registryDb}");
        await ExecAsync(server, $"CREATE DATABASE {viewsDb}");
        try
        {
            using var cluster = MockCluster.Start(new MockClusterOptions
            {
                Topics = [.. TopicCatalog.All.Select(t => new MockTopic(t.Name, t.Partitions))],
            });
            var registryApp = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", Db(server, registryDb),
                "--Logging:LogLevel:Default", "Warning"]);
            await registryApp.StartAsync();
            try
            {
                return await MeasureAsync(cluster.BootstrapServers, registryApp.Urls.Single(), Db(server, viewsDb), seconds, rate, output, tune);
            }
            finally
            {
                await registryApp.StopAsync();
                await registryApp.DisposeAsync();
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync(server, $"DROP DATABASE IF EXISTS {registryDb} WITH (FORCE)");
            await ExecAsync(server, $"DROP DATABASE IF EXISTS {viewsDb} WITH (FORCE)");
        }
    }

    private static async Task<int> MeasureAsync(
        string bootstrap, string registryUrl, string views, int seconds, int rate, TextWriter output, Action<ViewsSinkOptions>? tune)
    {
        await using var dataSource = NpgsqlDataSource.Create(views);
        var options = new ViewsSinkOptions { Schema = ViewsSchema, GroupId = "bench-views", SessionTimeoutMs = 3000 };
        tune?.Invoke(options);
        await SchemaMigrator.MigrateAllAsync(dataSource, ViewsSchema, CancellationToken.None);
        await using (var c = await dataSource.OpenConnectionAsync())
        {
            // Lets the poller find new rows without scanning; costs the sink an index more (the bound stays an upper bound).
            await c.ExecuteAsync($"CREATE INDEX stock_levels_sunk_at ON {ViewsSchema}.stock_levels (sunk_at)");
        }

        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
        using var stop = new CancellationTokenSource();
        var sink = new ViewsSink(options, bootstrap, dataSource, new EventDecoder(registry), NullLogger.Instance);
        var sinkTask = Task.Run(() => sink.RunAsync(stop.Token));

        var ages = new List<double>();
        var poller = Task.Run(() => PollAsync(dataSource, ages, stop.Token));

        var orderSerializer = new AvroSerializer<OrderEvent>(registry, new AvroSerializerConfig { AutoRegisterSchemas = true });
        var levelSerializer = new AvroSerializer<StockLevelEvent>(registry, new AvroSerializerConfig { AutoRegisterSchemas = true });
        using var producer = new ProducerBuilder<string, byte[]>(KafkaDefaults.Producer(bootstrap, "bench")).Build();
        // Steady state is what is measured: wait until the sink has joined its group and written a first record.
        var ready = new OrderEvent
        {
            metadata = Meta("warm-ready", "pool-0", "warm-ready", DateTime.UtcNow),
            body = new OrderCancelled { order_id = "warm-ready", channel = Channel.Manual, shop_id = "bench", channel_order_id = "ready" },
        };
        producer.Produce(TopicCatalog.Orders.Name, new Message<string, byte[]>
        {
            Key = "pool-0",
            Value = await orderSerializer.SerializeAsync(ready, new SerializationContext(MessageComponentType.Value, TopicCatalog.Orders.Name)),
        });
        producer.Flush(TimeSpan.FromSeconds(10));
        var join = Stopwatch.StartNew();
        while (sink.RecordsWritten == 0 && join.Elapsed < TimeSpan.FromSeconds(60) && !sinkTask.IsCompleted)
        {
            await Task.Delay(50);
        }

        const int WarmupSeconds = 3;
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        var dbCpuAtStart = await BackendCpuAsync(dataSource);
        var produced = 0;
        var clock = Stopwatch.StartNew();
        var random = new Random(7);
        var total = (long)rate * (seconds + WarmupSeconds);
        for (long i = 0; i < total; i++)
        {
            // Pace: event i is due at i / rate seconds.
            var due = TimeSpan.FromSeconds((double)i / rate);
            if (clock.Elapsed < due)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            var warm = clock.Elapsed.TotalSeconds < WarmupSeconds ? "warm-" : "";
            var pool = $"pool-{i % 100}";
            var now = DateTime.UtcNow;
            var orderId = $"{warm}o-{i}";
            var sku = $"SKU-{random.Next(2000)}";
            var order = new OrderEvent
            {
                metadata = Meta($"{warm}placed-{i}", pool, orderId, now),
                body = new OrderPlaced
                {
                    order = new ChannelOrder
                    {
                        order_id = orderId, channel = Channel.Shopify, shop_id = "shop", channel_order_id = $"c-{i}", placed_at = now,
                        lines = [new OrderLine { line_id = "1", sku = sku, quantity = 1, flags = [] }],
                    },
                },
            };
            var level = new StockLevelEvent
            {
                metadata = Meta($"{warm}level-{i}", pool, orderId, now),
                body = new StockLevelChanged
                {
                    sku = sku, location_id = $"WH{i % 3}", on_hand = 1000, allocated = (int)(i % 500), safety_stock = 0,
                    available = 1000 - (int)(i % 500), in_transit = 0, channel_available_to_sell = [],
                },
            };
            var ordersTopic = TopicCatalog.Orders.Name;
            var levelsTopic = TopicCatalog.StockLevels.Name;
            producer.Produce(ordersTopic, new Message<string, byte[]>
            {
                Key = pool, Value = await orderSerializer.SerializeAsync(order, new SerializationContext(MessageComponentType.Value, ordersTopic)),
            });
            producer.Produce(levelsTopic, new Message<string, byte[]>
            {
                Key = pool, Value = await levelSerializer.SerializeAsync(level, new SerializationContext(MessageComponentType.Value, levelsTopic)),
            });
            produced++;
        }

        var produceSeconds = clock.Elapsed.TotalSeconds;
        producer.Flush(TimeSpan.FromSeconds(30));
        var drain = Stopwatch.StartNew();
        while (sink.RecordsWritten < (2L * produced) + 1 && drain.Elapsed < TimeSpan.FromSeconds(60) && !sinkTask.IsCompleted)
        {
            await Task.Delay(100);
        }

        await Task.Delay(200);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart;
        var dbCpu = await BackendCpuAsync(dataSource) - dbCpuAtStart;
        await stop.CancelAsync();
        await sinkTask;
        await poller;

        var measured = ages.Order().ToArray();
        if (measured.Length == 0)
        {
            await output.WriteLineAsync("bench freshness: no stock-level change reached Postgres");
            return 1;
        }

        static double Percentile(double[] values, double p) =>
            values.Length == 0 ? double.NaN : values[Math.Min(values.Length - 1, (int)Math.Ceiling(p * values.Length) - 1)];
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(inv, $"bench freshness: {produced} orders + {produced} stock-level changes in {produceSeconds:F1} s ({produced / produceSeconds:F0} order events/s); {measured.Length} changes measured after {WarmupSeconds} s warm-up; sink wrote {sink.RecordsWritten} records in {sink.BatchesWritten} transactions (fetch wait {options.FetchWaitMaxMs} ms, linger {options.MaxBatchWaitMs} ms)"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=freshness.p50_ms value={Percentile(measured, 0.50):F0} unit=ms"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=freshness.p99_ms value={Percentile(measured, 0.99):F0} unit=ms"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=freshness.max_ms value={measured[^1]:F0} unit=ms"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=freshness.order_events_per_s value={produced / produceSeconds:F0} unit=events/s"));
        // Per order event (each brings one stock-level change too); the process figure includes the producer side.
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=freshness.process_cpu_us_per_event value={cpu.TotalMicroseconds / produced:F0} unit=us"));
        if (dbCpu is { } db)
        {
            await output.WriteLineAsync(string.Create(inv, $"RESULT name=freshness.postgres_cpu_us_per_event value={db.TotalMicroseconds / produced:F0} unit=us"));
        }

        return 0;
    }

    private const string StockSql =
        $"SELECT sunk_at, changed_at, event_id FROM {ViewsSchema}.stock_levels WHERE sunk_at > @watermark ORDER BY sunk_at";

    /// <summary>User + system CPU of the views database's Postgres backends (from /proc; null where that is not readable).</summary>
    private static async Task<TimeSpan?> BackendCpuAsync(NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var pids = await connection.QueryAsync<int>("SELECT pid FROM pg_stat_activity WHERE datname = current_database()");
        long ticks = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");
                // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        // Linux reports these in clock ticks of 1/100 s (USER_HZ).
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    private static async Task PollAsync(NpgsqlDataSource dataSource, List<double> ages, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
        var watermark = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        while (!ct.IsCancellationRequested)
        {
            var rows = (await connection.QueryAsync<(DateTime SunkAt, DateTime RecordedAt, string EventId)>(
                StockSql, new { watermark = DateTime.SpecifyKind(watermark, DateTimeKind.Utc) })).ToList();
            var seen = DateTime.UtcNow;
            foreach (var row in rows)
            {
                if (!row.EventId.StartsWith("warm-", StringComparison.Ordinal))
                {
                    ages.Add((seen - row.RecordedAt.ToUniversalTime()).TotalMilliseconds);
                }
            }

            if (rows.Count > 0)
            {
                watermark = rows[^1].SunkAt.ToUniversalTime();
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }

    private static EventMetadata Meta(string id, string pool, string correlation, DateTime now) => new()
    {
        event_id = id, pool_id = pool, correlation_id = correlation, causation_id = id, source_system = "bench", source_id = id,
        occurred_at = now, recorded_at = now,
    };

    private static string Db(string server, string database) => new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync(sql);
    }
}
