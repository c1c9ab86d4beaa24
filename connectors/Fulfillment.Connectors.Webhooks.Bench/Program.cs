using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.DevBroker;
using Fulfillment.SchemaRegistry;
using Npgsql;

namespace Fulfillment.Connectors.Webhooks.Bench;

/// <summary>
/// `bench webhooks`: sustained signed Shopify orders/create intake against the real receiver host (Kestrel on
/// 127.0.0.1, Postgres group commit, Avro via our registry, the development broker), everything on this machine, the load
/// generator included. Prints RESULT lines for requests/s and the p99 time to acknowledgement.
/// Options: --seconds N (measured, default 10), --warmup N (default 3), --concurrency N (default 32).
/// Postgres: env Postgres__ConnectionString or FULFILLMENT_TEST_PG (server; a scratch database is created and dropped).
/// </summary>
internal static class Program
{
    private const string Domain = "bench.myshopify.com";
    private const string Secret = "bench-secret";

    private static async Task<int> Main(string[] args)
    {
        var seconds = 10;
        var warmup = 3;
        var concurrency = 32;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length: seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--warmup" when i + 1 < args.Length: warmup = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--concurrency" when i + 1 < args.Length: concurrency = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"bench webhooks: unknown argument '{args[i]}' (use --seconds N --warmup N --concurrency N)");
                    return 2;
            }
        }

        var server = Environment.GetEnvironmentVariable("Postgres__ConnectionString") is { Length: > 0 } pg ? pg
            : Environment.GetEnvironmentVariable("FULFILLMENT_TEST_PG") is { Length: > 0 } t ? t
            : "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres";
        var database = $"bench_webhooks_{Guid.NewGuid():N}"[..30];
        await ExecAsync(server, $"CREATE DATABASE \"{database}\"");
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
        try
        {
            using var cluster = MockCluster.Start(new MockClusterOptions
            {
                // More partitions than the catalog's 12 so the bench's raw volume stays under the per-partition retention cap.
                Topics = [new MockTopic("bench.raw-ingest", 64), new MockTopic("bench.orders", 12)],
            });
            await using var registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", connectionString, "--Logging:LogLevel:Default=Warning"]);
            await registry.StartAsync();
            await using var app = WebhooksApp.Build([
                "--urls=http://127.0.0.1:0",
                "--Logging:LogLevel:Default=Warning",
                $"--Kafka:BootstrapServers={cluster.BootstrapServers}",
                $"--Kafka:SchemaRegistryUrl={registry.Urls.Single()}",
                $"--Postgres:ConnectionString={connectionString}",
                "--Connectors:RawIngestTopic=bench.raw-ingest",
                "--Connectors:OrdersTopic=bench.orders",
                "--Channels:Shops:0:Channel=Shopify",
                $"--Channels:Shops:0:ShopId={Domain}",
                "--Channels:Shops:0:PoolId=bench-pool",
                $"--Channels:Shops:0:Secret={Secret}",
            ]);
            await app.StartAsync();
            var baseUri = new Uri(app.Urls.Single());

            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var http = new HttpClient(handler) { BaseAddress = baseUri };
            var template = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "shopify-order.json"));

            await RunAsync(http, template, concurrency, TimeSpan.FromSeconds(warmup), null);
            var latencies = new List<double>[concurrency];
            var (count, failures, elapsed) = await RunAsync(http, template, concurrency, TimeSpan.FromSeconds(seconds), latencies);
            var all = latencies.SelectMany(l => l).Order().ToArray();
            var p50 = all.Length == 0 ? 0 : all[(int)(all.Length * 0.50)];
            var p99 = all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))];
            Console.WriteLine($"bench webhooks: {count} signed deliveries in {elapsed.TotalSeconds:F1} s, concurrency {concurrency}, {failures} not answered 200, p50 {p50:F2} ms");
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.requests_per_s value={count / elapsed.TotalSeconds:F0} unit=requests/s"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.ack_p99_ms value={p99:F2} unit=ms"));

            // Every acknowledged delivery must also reach Kafka: wait for the backlog to drain before declaring success.
            var stored = await ScalarAsync(connectionString, "SELECT count(*) FROM raw_deliveries");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            long unpublished;
            while ((unpublished = await ScalarAsync(connectionString, "SELECT count(*) FROM raw_deliveries WHERE published_at IS NULL")) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }

            Console.WriteLine($"bench webhooks: {stored} deliveries stored, {unpublished} not yet on Kafka after draining");
            await app.StopAsync();
            await registry.StopAsync();
            return failures == 0 && unpublished == 0 ? 0 : 1;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync(server, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }
    }

    private static async Task<(long Count, long Failures, TimeSpan Elapsed)> RunAsync(
        HttpClient http, string template, int concurrency, TimeSpan duration, List<double>[]? latencies)
    {
        long count = 0;
        long failures = 0;
        var stopwatch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = latencies is null ? null : latencies[w] = new List<double>(100_000);
            var key = Encoding.UTF8.GetBytes(Secret);
            while (stopwatch.Elapsed < duration)
            {
                var orderId = Random.Shared.NextInt64(1_000_000_000_000, 9_999_999_999_999);
                var body = Encoding.UTF8.GetBytes(template.Replace("{{ORDER_ID}}", orderId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
                using var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/shopify") { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new("application/json");
                request.Headers.TryAddWithoutValidation("X-Shopify-Topic", "orders/create");
                request.Headers.TryAddWithoutValidation("X-Shopify-Shop-Domain", Domain);
                request.Headers.TryAddWithoutValidation("X-Shopify-Event-Id", Guid.NewGuid().ToString());
                request.Headers.TryAddWithoutValidation("X-Shopify-Hmac-Sha256", Convert.ToBase64String(HMACSHA256.HashData(key, body)));
                var started = Stopwatch.GetTimestamp();
                using var response = await http.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
                mine?.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                Interlocked.Increment(ref count);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        return (count, failures, stopwatch.Elapsed);
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
