using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Fulfillment.DevBroker;
using Fulfillment.Processors.Runtime;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Stock;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Processors.Inventory.Bench;

/// <summary>
/// Order events through the development broker: an in-process mock cluster with the catalog's pool topics
/// (12 partitions), the inventory pool topology on the stream runtime with RocksDB state, one producer of
/// pre-serialized OrderPlaced events and one consumer counting allocation decisions. A warm-up of the same kind of
/// orders is decided first (JIT tiering, first loads of each pool's state); the rate is the window's order events from
/// its first produce until its last decision was read back, so it is the sustained rate, not a cold start.
/// </summary>
internal static class EndToEndBench
{
    private static readonly DateTime T0 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    public static int Run(int orders, int warmup, int pools, int skus, int threads, bool allocationTypes)
    {
        var topics = InventoryPoolTopics.Catalog;
        var partitions = TopicCatalog.PoolPartitions;
        var serdes = InventoryPoolSerdes.Create(topics, subject => subject.Length);
        var pool = InventoryPoolTopology.Build(topics, serdes);
        using var cluster = MockCluster.Start(new MockClusterOptions
        {
            Topics = [.. topics.All.Concat(pool.ChangelogTopics).Distinct().Select(t => new MockTopic(t, partitions))],
        });
        var stateRoot = Path.Combine(Path.GetTempPath(), $"inventory-e2e-{Environment.ProcessId}");
        var runtime = new StreamRuntime(pool.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            StorageFactory = new RocksDbTaskStorageFactory(stateRoot),
            SessionTimeout = TimeSpan.FromSeconds(3),
            ProcessingThreads = threads,
        });
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => runtime.RunAsync(stop.Token));
        try
        {
            using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
            {
                BootstrapServers = cluster.BootstrapServers,
                Partitioner = Partitioner.Murmur2Random,
                EnableIdempotence = true,
                LingerMs = 5,
                CompressionType = CompressionType.Lz4,
            }).Build();
            var time = T0;
            void Produce(string topic, string key, byte[] value)
            {
                while (true)
                {
                    try
                    {
                        producer.Produce(topic, new Message<byte[], byte[]> { Key = Serdes.Utf8.Serialize(key)!, Value = value, Timestamp = new Timestamp(time = time.AddMilliseconds(1)) });
                        return;
                    }
                    catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(10));
                    }
                }
            }

            var poolIds = Enumerable.Range(0, pools).Select(i => $"merchant-{i}").ToArray();
            var sites = new (string Id, double Lat, double Lon)[] { ("WH-NJ", 40.73, -74.17), ("WH-GA", 33.75, -84.39), ("WH-TX", 32.78, -96.80), ("WH-CA", 34.05, -118.24), ("3PL-IL", 41.88, -87.63) };
            foreach (var p in poolIds)
            {
                foreach (var (id, lat, lon) in sites)
                {
                    Produce(topics.OperatorCommands, p, serdes.OperatorCommands.Serialize(new OperatorCommand
                    {
                        metadata = Metadata($"{p}-{id}", p),
                        body = new LocationUpserted { location_id = id, name = id, kind = LocationKind.Warehouse, address = new Address { country_code = "US", latitude = lat, longitude = lon }, active = true },
                    })!);
                    Produce(topics.OperatorCommands, p, serdes.OperatorCommands.Serialize(new OperatorCommand
                    {
                        metadata = Metadata($"{p}-{id}-receipt", p),
                        body = new StockReceived { location_id = id, lines = [.. Enumerable.Range(0, skus).Select(s => new SkuQuantity { sku = $"SKU-{s:D5}", quantity = 100_000 })] },
                    })!);
                }
            }

            producer.Flush(TimeSpan.FromSeconds(60));
            var setupLevels = pools * sites.Length * skus;
            CountRecords(cluster.BootstrapServers, topics.StockLevels, partitions, setupLevels, TimeSpan.FromMinutes(5));

            var random = new Random(42);
            var values = new (string Pool, byte[] Value)[warmup + orders];
            var lines = 0L;
            for (var o = 0; o < warmup + orders; o++)
            {
                var p = poolIds[random.Next(pools)];
                var count = 1 + random.Next(5);
                lines += o >= warmup ? count : 0;
                values[o] = (p, serdes.Orders.Serialize(new OrderEvent
                {
                    metadata = Metadata($"order-{o}", p),
                    body = new OrderPlaced
                    {
                        order = new ChannelOrder
                        {
                            order_id = $"o{o}",
                            channel = Channel.Shopify,
                            shop_id = "shop",
                            channel_order_id = $"{o}",
                            lines = [.. Enumerable.Range(0, count).Select(l => new OrderLine { line_id = $"{l + 1}", sku = $"SKU-{random.Next(skus):D5}", quantity = 1 + random.Next(3) })],
                            shipping_address = new Address { country_code = "US", latitude = 26 + (random.NextDouble() * 21), longitude = -122 + (random.NextDouble() * 51) },
                            placed_at = T0,
                        },
                    },
                })!);
            }

            using var sampler = allocationTypes ? new AllocationSampler() : null;
            var marksBefore = HighWatermarks(cluster.BootstrapServers, [.. topics.All.Concat(pool.ChangelogTopics).Distinct()], partitions);
            if (warmup > 0)
            {
                // Warm-up: the same kind of orders, decided before the window opens, so the window measures the sustained
                // rate (tiered JIT, first loads of every pool's state and the runtime's buffers are behind it).
                foreach (var (p, value) in values.AsSpan(0, warmup))
                {
                    Produce(topics.Orders, p, value);
                }

                producer.Flush(TimeSpan.FromSeconds(60));
                var warmed = CountRecords(cluster.BootstrapServers, topics.Allocations, partitions, warmup, TimeSpan.FromMinutes(5));
                if (warmed < warmup)
                {
                    Console.WriteLine($"# only {warmed} of {warmup} warm-up decisions arrived");
                    return 1;
                }

                marksBefore = HighWatermarks(cluster.BootstrapServers, [.. marksBefore.Keys], partitions);
            }

            var process = Process.GetCurrentProcess();
            sampler?.Start();
            var cpuStart = process.TotalProcessorTime;
            var threadsStart = ThreadCpu.Snapshot();
            var gcStart = (Gen0: GC.CollectionCount(0), Gen1: GC.CollectionCount(1), Gen2: GC.CollectionCount(2), Pause: GC.GetTotalPauseDuration(), Allocated: GC.GetTotalAllocatedBytes());
            var clock = Stopwatch.StartNew();
            // The reader starts where the allocations topic ends now, before the first order of the window is produced
            // (asked on this thread: a reader task scheduled late would miss decisions made meanwhile).
            var start = warmup > 0 ? EndOffsets(cluster.BootstrapServers, topics.Allocations, partitions) : null;
            var counting = Task.Run(() => CountRecords(cluster.BootstrapServers, topics.Allocations, partitions, orders, TimeSpan.FromMinutes(5), start));
            foreach (var (p, value) in values.AsSpan(warmup))
            {
                Produce(topics.Orders, p, value);
            }

            producer.Flush(TimeSpan.FromSeconds(60));
            var produced = clock.Elapsed.TotalSeconds;
            var decided = counting.GetAwaiter().GetResult();
            var seconds = clock.Elapsed.TotalSeconds;
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
            var byThread = ThreadCpu.Since(threadsStart);
            var allocated = sampler?.Stop();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {orders} order events ({lines} lines) after a warm-up of {warmup} across {pools} pools × {sites.Length} locations × {skus} SKUs, {partitions} partitions, RocksDB state, {threads} processing thread(s): produced in {produced:0.00} s, {decided} decisions read back after {seconds:0.00} s wall; the process (producer, runtime, broker, reader) used {cpu:0.00} s CPU"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# CPU per order event {cpu * 1e6 / orders:0} us; by thread group: {string.Join(", ", byThread.Select(t => $"{t.Name} {t.Seconds:0.00} s"))}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# GC in the window: gen0 {GC.CollectionCount(0) - gcStart.Gen0}, gen1 {GC.CollectionCount(1) - gcStart.Gen1}, gen2 {GC.CollectionCount(2) - gcStart.Gen2}, paused {(GC.GetTotalPauseDuration() - gcStart.Pause).TotalSeconds:0.00} s, allocated {(GC.GetTotalAllocatedBytes() - gcStart.Allocated) / (double)orders / 1024:0.0} KiB per order event"));
            var records = HighWatermarks(cluster.BootstrapServers, [.. marksBefore.Keys], partitions)
                .Select(p => (Topic: p.Key, Records: p.Value - marksBefore[p.Key]))
                .Where(p => p.Records > 0)
                .ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# Kafka records per order event (offsets, commit markers included): {records.Sum(p => p.Records) / (double)orders:0.00} = {string.Join(" + ", records.Select(p => $"{p.Records / (double)orders:0.00} {p.Topic}"))}"));
            if (allocated is { Count: > 0 })
            {
                var sampled = allocated.Sum(a => a.Bytes);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# promoted per order event: gen0→1 {sampler!.Promoted.Gen0 / (double)orders:0} B, gen1→2 {sampler.Promoted.Gen1 / (double)orders:0} B"));
                Console.WriteLine("# allocation sample by type (share of sampled bytes): " + string.Join(", ", allocated.Take(25).Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Type} {100.0 * a.Bytes / sampled:0.0}%"))));
            }

            if (decided < orders)
            {
                Console.WriteLine($"# only {decided} of {orders} decisions arrived");
                return 1;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT name=allocation.e2e.events_per_s value={orders / seconds:0} unit=events/s"));
            return 0;
        }
        finally
        {
            stop.Cancel();
            run.GetAwaiter().GetResult();
            Directory.Delete(stateRoot, recursive: true);
        }
    }

    private static EventMetadata Metadata(string id, string pool) => new()
    {
        event_id = id,
        pool_id = pool,
        correlation_id = id,
        causation_id = id,
        source_system = "bench",
        source_id = id,
        occurred_at = T0,
        recorded_at = T0,
    };

    /// <summary>Sum of the high watermarks over every partition, per topic.</summary>
    private static Dictionary<string, long> HighWatermarks(string bootstrap, IReadOnlyList<string> topics, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"bench-marks-{Guid.NewGuid():N}" }).Build();
        return topics.ToDictionary(
            t => t,
            t => Enumerable.Range(0, partitions).Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(t, p), TimeSpan.FromSeconds(10)).High.Value),
            StringComparer.Ordinal);
    }

    /// <summary>Reads every partition of a topic from the start until <paramref name="count"/> records were seen.</summary>
    private static long[] EndOffsets(string bootstrap, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"bench-marks-{Guid.NewGuid():N}" }).Build();
        return [.. Enumerable.Range(0, partitions).Select(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value)];
    }

    private static int CountRecords(string bootstrap, string topic, int partitions, int count, TimeSpan timeout, long[]? start = null)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"bench-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
            // The reader is the stopwatch, not the system under test: the development broker answers a parked fetch only
            // at fetch.wait.max.ms (librdkafka's default 500 ms), which would add up to half a second to the last decision.
            FetchWaitMaxMs = 10,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, start is null ? Offset.Beginning : new Offset(start[p]))));
        var seen = 0;
        var clock = Stopwatch.StartNew();
        while (seen < count && clock.Elapsed < timeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null)
            {
                seen++;
            }
        }

        return seen;
    }
}
