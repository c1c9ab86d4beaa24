using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.DevBroker;
using Fulfillment.SchemaRegistry;
using Fulfillment.Schemas.Topics;
using Npgsql;

namespace Fulfillment.Connectors.Webhooks.Bench;

/// <summary>
/// `bench webhooks`: sustained signed Shopify orders/create intake against the real receiver host (Kestrel on
/// 127.0.0.1, Postgres group commit, Avro via our registry, the development broker), everything on this machine.
/// The load generator and the development broker run in a child process (as senders and Kafka would in production), so
/// the hub's own CPU time per request can be told apart from theirs and from Postgres's: on a shared machine wall-clock
/// throughput is only a lower bound, CPU time per request is what says what two idle cores would sustain.
/// Prints RESULT lines for requests/s, p99 time to acknowledgement and CPU time per request.
/// Options: --seconds N (measured, default 10), --warmup N (default 30: startup compiles every method optimized, which
/// takes a while on a loaded machine), --concurrency N (default 32).
/// Postgres: env Postgres__ConnectionString or FULFILLMENT_TEST_PG (server; a scratch database is created and dropped).
/// </summary>
internal static class Program
{
    private const string Domain = "bench.myshopify.com";
    private const string Secret = "bench-secret";
    private const string RawTopic = "bench.raw-ingest";
    private const string OrdersTopic = "bench.orders";

    private static async Task<int> Main(string[] args)
    {
        var seconds = 10;
        var warmup = 30;
        var concurrency = 32;
        var generator = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length: seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--warmup" when i + 1 < args.Length: warmup = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--concurrency" when i + 1 < args.Length: concurrency = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--generator": generator = true; break;
                default:
                    Console.Error.WriteLine($"bench webhooks: unknown argument '{args[i]}' (use --seconds N --warmup N --concurrency N)");
                    return 2;
            }
        }

        return generator
            ? await Generator.RunAsync(concurrency, warmup, seconds)
            : await RunHubAsync(concurrency, warmup, seconds);
    }

    private static async Task<int> RunHubAsync(int concurrency, int warmup, int seconds)
    {
        var server = Environment.GetEnvironmentVariable("Postgres__ConnectionString") is { Length: > 0 } pg ? pg
            : Environment.GetEnvironmentVariable("FULFILLMENT_TEST_PG") is { Length: > 0 } t ? t
            : "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres";
        var database = $"bench_webhooks_{Guid.NewGuid():N}"[..30];
        await ExecAsync(server, $"CREATE DATABASE \"{database}\"");
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
        using var child = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(Program).Assembly.Location, "--generator", "--concurrency", $"{concurrency}", "--warmup", $"{warmup}", "--seconds", $"{seconds}" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            // The sender's continuations are a few microseconds each: run them on the socket event thread rather than
            // handing each to the thread pool (the sender's CPU counts against the same two cores).
            Environment = { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" },
        }) ?? throw new InvalidOperationException("could not start the load generator");
        try
        {
            var bootstrap = await ExpectAsync(child, "BROKER ");
            // No configuration file watcher: it would watch the whole working directory (the repository, busy with builds)
            // and its CPU would be counted as the hub's.
            await using var registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", connectionString,
                "--Logging:LogLevel:Default=Warning", "--hostBuilder:reloadConfigOnChange=false"]);
            await registry.StartAsync();
            await using var app = WebhooksApp.Build([
                "--urls=http://127.0.0.1:0",
                "--Logging:LogLevel:Default=Warning",
                $"--Kafka:BootstrapServers={bootstrap}",
                $"--Kafka:SchemaRegistryUrl={registry.Urls.Single()}",
                $"--Postgres:ConnectionString={connectionString}",
                $"--Connectors:RawIngestTopic={RawTopic}",
                $"--Connectors:OrdersTopic={OrdersTopic}",
                "--Channels:Shops:0:Channel=Shopify",
                $"--Channels:Shops:0:ShopId={Domain}",
                "--Channels:Shops:0:PoolId=bench-pool",
                $"--Channels:Shops:0:Secret={Secret}",
            ]);
            await app.StartAsync();
            await child.StandardInput.WriteLineAsync(app.Urls.Single());
            await child.StandardInput.FlushAsync();

            await ExpectAsync(child, "MEASURE_START");
            var hubStart = Process.GetCurrentProcess().TotalProcessorTime;
            var allocatedStart = GC.GetTotalAllocatedBytes();
            var gcStart = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var batchesStart = (ConnectorMetrics.StoreBatchRows.Count, ConnectorMetrics.StoreBatchRows.Sum);
            var pgStart = await PostgresCpuAsync(connectionString, database);
            var wallStart = Stopwatch.GetTimestamp();
            var summary = await ExpectAsync(child, "MEASURE_END ");
            var measured = Stopwatch.GetElapsedTime(wallStart);
            var fields = summary.Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
            var count = (long)fields["count"];
            var failures = (long)fields["failures"];

            // Every acknowledged delivery must also reach Kafka; its CPU belongs to the requests, so it is counted until the
            // backlog is gone.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            long unpublished;
            while ((unpublished = await ScalarAsync(connectionString, "SELECT count(*) FROM raw_unpublished")) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            var drained = Stopwatch.GetElapsedTime(wallStart) - measured;
            var hubCpu = Process.GetCurrentProcess().TotalProcessorTime - hubStart;
            var allocated = GC.GetTotalAllocatedBytes() - allocatedStart;
            var gcs = (GC.CollectionCount(0) - gcStart.Item1, GC.CollectionCount(1) - gcStart.Item2, GC.CollectionCount(2) - gcStart.Item3);
            var batches = ConnectorMetrics.StoreBatchRows.Count - batchesStart.Count;
            var batchedRows = ConnectorMetrics.StoreBatchRows.Sum - batchesStart.Sum;
            var pgCpu = await PostgresCpuAsync(connectionString, database) - pgStart;
            var stored = await ScalarAsync(connectionString, "SELECT count(*) FROM raw_deliveries");
            await child.StandardInput.WriteLineAsync("STOP");
            await child.StandardInput.FlushAsync();

            var hubUs = count == 0 ? 0 : hubCpu.TotalMicroseconds / count;
            var pgUs = count == 0 ? 0 : pgCpu.TotalMicroseconds / count;
            var senderUs = count == 0 ? 0 : fields["cpu_ms"] * 1000 / count;
            var brokerUs = count == 0 ? 0 : fields["broker_cpu_ms"] * 1000 / count;
            Console.WriteLine(FormattableString.Invariant(
                $"bench webhooks: {count} signed deliveries in {measured.TotalSeconds:F1} s, concurrency {concurrency}, {failures} not answered 200, p50 {fields["p50"]:F2} ms; backlog drained {drained.TotalSeconds:F1} s later"));
            Console.WriteLine(FormattableString.Invariant(
                $"bench webhooks: CPU per request: hub {hubUs:F0} us (Kestrel, receiver, group commit, Avro, producer), Postgres backends {pgUs:F0} us, sender {senderUs:F0} us, dev broker {brokerUs:F0} us"));
            // Allocation per request drives the collector's work and the memory clearing behind it (part of the hub's CPU).
            Console.WriteLine(FormattableString.Invariant(
                $"bench webhooks: hub allocated {(count == 0 ? 0 : allocated / 1024.0 / count):F1} KB per request; collections gen0 {gcs.Item1}, gen1 {gcs.Item2}, gen2 {gcs.Item3}"));
            // Postgres' cost per delivery depends on how many share a group commit (one statement, one WAL flush).
            Console.WriteLine(FormattableString.Invariant(
                $"bench webhooks: group commit: {batches} batches, {(batches == 0 ? 0 : batchedRows / batches):F1} deliveries per batch"));
            Console.WriteLine(FormattableString.Invariant(
                $"bench webhooks: on 2 idle cores that is {2e6 / (hubUs + pgUs):F0} requests/s with the senders elsewhere, {2e6 / (hubUs + pgUs + senderUs + brokerUs):F0} with this sender and broker on the same cores"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.requests_per_s value={count / measured.TotalSeconds:F0} unit=requests/s"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.ack_p99_ms value={fields["p99"]:F2} unit=ms"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.hub_cpu_us_per_request value={hubUs:F0} unit=us"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.postgres_cpu_us_per_request value={pgUs:F0} unit=us"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.sender_cpu_us_per_request value={senderUs:F0} unit=us"));
            Console.WriteLine(FormattableString.Invariant($"RESULT name=webhooks.broker_cpu_us_per_request value={brokerUs:F0} unit=us"));
            Console.WriteLine($"bench webhooks: {stored} deliveries stored, {unpublished} not yet on Kafka after draining");
            await app.StopAsync();
            await registry.StopAsync();
            await child.WaitForExitAsync();
            return failures == 0 && unpublished == 0 ? 0 : 1;
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill();
            }

            NpgsqlConnection.ClearAllPools();
            await ExecAsync(server, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }
    }

    /// <summary>Reads the child's output until a line starting with <paramref name="prefix"/>; returns the rest of it.</summary>
    private static async Task<string> ExpectAsync(Process child, string prefix)
    {
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line[prefix.Length..];
            }

            Console.WriteLine(line);
        }

        throw new InvalidOperationException($"the load generator exited before printing {prefix.Trim()}");
    }

    /// <summary>User + system CPU of the Postgres backends serving the bench database (same machine: read from /proc).
    /// The WAL writer and checkpointer are shared with other databases and not counted.</summary>
    private static async Task<TimeSpan> PostgresCpuAsync(string connectionString, string database)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", connection);
        command.Parameters.AddWithValue("d", database);
        var ticks = 0L;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            try
            {
                // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised command name.
                var stat = await File.ReadAllTextAsync($"/proc/{reader.GetInt32(0)}/stat");
                var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // Backend gone, or Postgres on another machine: not counted.
            }
        }

        return TimeSpan.FromSeconds(ticks / 100.0);
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

    /// <summary>The child process: the development broker and the signed-webhook sender.</summary>
    private static class Generator
    {
        public static async Task<int> RunAsync(int concurrency, int warmup, int seconds)
        {
            using var cluster = MockCluster.Start(new MockClusterOptions
            {
                // The catalog's partition counts: the producer's work per record depends on how many partitions its records
                // spread over. Nothing consumes here, so the broker dropping old raw records at its retention cap is harmless.
                Topics = [new MockTopic(RawTopic, TopicCatalog.RawIngest.Partitions), new MockTopic(OrdersTopic, TopicCatalog.Orders.Partitions)],
            });
            Console.WriteLine($"BROKER {cluster.BootstrapServers}");
            var url = new Uri(await Console.In.ReadLineAsync() ?? throw new InvalidOperationException("no receiver URL on stdin"));

            // Signed requests are built before the clock starts: the sender shares the two cores with the hub, so its
            // per-request work is kept to patching a fresh event id into prepared bytes and one send (the body, and so
            // its signature, repeats every RequestPool deliveries; the event id, which is the dedupe key, never does).
            var requests = SignedRequests.Build(url, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "shopify-order.json")));
            await SendAsync(url, requests, concurrency, TimeSpan.FromSeconds(warmup), null);
            var latencies = new List<double>[concurrency];
            var cpuStart = ThreadCpu.Sample();
            Console.WriteLine("MEASURE_START");
            var (count, failures, elapsed) = await SendAsync(url, requests, concurrency, TimeSpan.FromSeconds(seconds), latencies);
            var cpu = ThreadCpu.Sample() - cpuStart;
            var all = latencies.SelectMany(l => l).Order().ToArray();
            var p50 = all.Length == 0 ? 0 : all[(int)(all.Length * 0.50)];
            var p99 = all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))];
            Console.WriteLine(FormattableString.Invariant(
                $"MEASURE_END count={count} failures={failures} elapsed={elapsed.TotalSeconds:F3} p50={p50:F3} p99={p99:F3} cpu_ms={cpu.Sender.TotalMilliseconds:F0} broker_cpu_ms={cpu.Broker.TotalMilliseconds:F0}"));

            // The broker stays up until the hub has drained its backlog to it.
            while (await Console.In.ReadLineAsync() is { } line && line != "STOP")
            {
            }

            return 0;
        }

        private static async Task<(long Count, long Failures, TimeSpan Elapsed)> SendAsync(
            Uri url, SignedRequests requests, int concurrency, TimeSpan duration, List<double>[]? latencies)
        {
            long count = 0;
            long failures = 0;
            var stopwatch = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
            {
                var mine = latencies is null ? null : latencies[w] = new List<double>(100_000);
                await using var connection = await HttpConnection.OpenAsync(url);
                var next = w;
                while (stopwatch.Elapsed < duration)
                {
                    var request = requests.Next(ref next, concurrency, connection.SendBuffer);
                    var started = Stopwatch.GetTimestamp();
                    var status = await connection.ExchangeAsync(request);
                    mine?.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    Interlocked.Increment(ref count);
                    if (status != 200)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
            })).ToArray();
            await Task.WhenAll(workers);
            return (count, failures, stopwatch.Elapsed);
        }
    }

    /// <summary>Signed Shopify orders/create requests, complete HTTP/1.1 bytes, each with a slot for its event id.</summary>
    private sealed class SignedRequests
    {
        private const int RequestPool = 1024;
        private const string EventIdHeader = "X-Shopify-Event-Id: ";
        private readonly byte[][] _requests;
        private readonly int[] _eventIdOffsets;

        private SignedRequests(byte[][] requests, int[] eventIdOffsets)
        {
            _requests = requests;
            _eventIdOffsets = eventIdOffsets;
        }

        public static SignedRequests Build(Uri url, string template)
        {
            using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(Secret));
            var requests = new byte[RequestPool][];
            var offsets = new int[RequestPool];
            for (var i = 0; i < RequestPool; i++)
            {
                var orderId = Random.Shared.NextInt64(1_000_000_000_000, 9_999_999_999_999);
                var body = Encoding.UTF8.GetBytes(template.Replace("{{ORDER_ID}}", orderId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
                var head = string.Create(CultureInfo.InvariantCulture,
                    $"POST /webhooks/shopify HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\n" +
                    $"X-Shopify-Topic: orders/create\r\nX-Shopify-Shop-Domain: {Domain}\r\n" +
                    $"X-Shopify-Hmac-Sha256: {Convert.ToBase64String(hmac.ComputeHash(body))}\r\n" +
                    $"Content-Length: {body.Length}\r\n{EventIdHeader}");
                offsets[i] = head.Length;
                requests[i] = [.. Encoding.ASCII.GetBytes(head + Guid.Empty.ToString() + "\r\n\r\n"), .. body];
            }

            return new SignedRequests(requests, offsets);
        }

        /// <summary>Copies the next prepared request into <paramref name="buffer"/> with a new event id.</summary>
        public ReadOnlyMemory<byte> Next(ref int next, int stride, byte[] buffer)
        {
            var index = next % RequestPool;
            next += stride;
            var request = _requests[index];
            request.CopyTo(buffer, 0);
            Guid.NewGuid().TryFormat(buffer.AsSpan(_eventIdOffsets[index], 36), out _);
            return buffer.AsMemory(0, request.Length);
        }
    }

    /// <summary>One keep-alive HTTP/1.1 connection with one request in flight: send prepared bytes, read the status and
    /// skip the body (Content-Length or chunked).</summary>
    private sealed class HttpConnection : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly byte[] _receive = new byte[16 * 1024];
        private int _start;
        private int _end;

        private HttpConnection(Socket socket) => _socket = socket;

        public byte[] SendBuffer { get; } = new byte[64 * 1024];

        public static async Task<HttpConnection> OpenAsync(Uri url)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(url.Host, url.Port);
            return new HttpConnection(socket);
        }

        public async Task<int> ExchangeAsync(ReadOnlyMemory<byte> request)
        {
            while (!request.IsEmpty)
            {
                request = request[await _socket.SendAsync(request, SocketFlags.None)..];
            }

            var headerEnd = await FindAsync("\r\n\r\n"u8.ToArray());
            var head = Encoding.ASCII.GetString(_receive, _start, headerEnd - _start);
            _start = headerEnd + 4;
            var status = int.Parse(head.AsSpan(9, 3), CultureInfo.InvariantCulture);
            var lengthAt = head.IndexOf("Content-Length:", StringComparison.OrdinalIgnoreCase);
            if (lengthAt >= 0)
            {
                var lineEnd = head.IndexOf('\r', lengthAt);
                var length = int.Parse(head.AsSpan(lengthAt + 15, (lineEnd < 0 ? head.Length : lineEnd) - lengthAt - 15).Trim(), CultureInfo.InvariantCulture);
                await SkipAsync(length);
            }
            else
            {
                // Chunked: size line, data, CRLF, until the zero-size chunk and its trailing CRLF.
                while (true)
                {
                    var sizeEnd = await FindAsync("\r\n"u8.ToArray());
                    var size = int.Parse(Encoding.ASCII.GetString(_receive, _start, sizeEnd - _start), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    _start = sizeEnd + 2;
                    await SkipAsync(size + 2);
                    if (size == 0)
                    {
                        break;
                    }
                }
            }

            return status;
        }

        private async Task<int> FindAsync(byte[] marker)
        {
            while (true)
            {
                var at = _receive.AsSpan(_start, _end - _start).IndexOf(marker);
                if (at >= 0)
                {
                    return _start + at;
                }

                await FillAsync();
            }
        }

        private async Task SkipAsync(int count)
        {
            while (_end - _start < count)
            {
                count -= _end - _start;
                _start = _end;
                await FillAsync();
            }

            _start += count;
        }

        private async Task FillAsync()
        {
            if (_start == _end)
            {
                _start = _end = 0;
            }
            else if (_end == _receive.Length)
            {
                Buffer.BlockCopy(_receive, _start, _receive, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            var read = await _socket.ReceiveAsync(_receive.AsMemory(_end), SocketFlags.None);
            _end += read > 0 ? read : throw new IOException("the receiver closed the connection");
        }

        public ValueTask DisposeAsync()
        {
            _socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>CPU time of this process split into the development broker's threads (librdkafka names them rdk:*) and
    /// the rest (the sender), read from /proc.</summary>
    private readonly record struct ThreadCpu(TimeSpan Sender, TimeSpan Broker)
    {
        public static ThreadCpu operator -(ThreadCpu a, ThreadCpu b) => new(a.Sender - b.Sender, a.Broker - b.Broker);

        public static ThreadCpu Sample()
        {
            long broker = 0;
            long rest = 0;
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var open = stat.IndexOf('(', StringComparison.Ordinal);
                    var close = stat.LastIndexOf(')');
                    var fields = stat[(close + 2)..].Split(' ');
                    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                    if (stat.AsSpan(open + 1, close - open - 1).StartsWith("rdk:", StringComparison.Ordinal))
                    {
                        broker += ticks;
                    }
                    else
                    {
                        rest += ticks;
                    }
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }

            // Threads that ended between samples take their time with them; the process total keeps it, so the rest is
            // taken from it.
            var total = Process.GetCurrentProcess().TotalProcessorTime;
            var brokerTime = TimeSpan.FromSeconds(broker / 100.0);
            return new ThreadCpu(total - brokerTime, brokerTime);
        }
    }
}
