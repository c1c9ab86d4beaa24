using System.Diagnostics;
using Confluent.Kafka;
using Fulfillment.Processors.Runtime;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Testing;
using static Fulfillment.Processors.Inventory.Tests.Topology.AvroEvents;
using AvroAllocationDecided = Fulfillment.Schemas.Allocations.AllocationDecided;
using AvroStockLevelChanged = Fulfillment.Schemas.Stock.StockLevelChanged;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

[CollectionDefinition(Name)]
public sealed class InventoryBrokerCollection : ICollectionFixture<DevBrokerFixture>
{
    public const string Name = "inventory dev broker";
}

[Collection(InventoryBrokerCollection.Name)]
public class InventoryPoolBrokerTests(DevBrokerFixture broker)
{
    private const int Partitions = 4;

    [Fact]
    public async Task Runtime_NormalizedOrdersOnDevBroker_PublishAllocationsAndStockLevels()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var topics = new InventoryPoolTopics($"orders-{suffix}", $"movements-{suffix}", $"shipments-{suffix}", $"operator-{suffix}", $"allocations-{suffix}", $"levels-{suffix}", $"dlq-{suffix}");
        var serdes = InventoryPoolSerdes.Create(topics, subject => subject.Length);
        var pool = InventoryPoolTopology.Build(topics, serdes, $"inventory-{suffix}");
        foreach (var topic in topics.All.Concat(pool.ChangelogTopics))
        {
            broker.Cluster.CreateTopic(topic, Partitions);
        }

        var runtime = new StreamRuntime(pool.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = broker.BootstrapServers,
            StorageFactory = new InMemoryTaskStorageFactory(),
            SessionTimeout = TimeSpan.FromSeconds(3),
            CommitInterval = TimeSpan.FromMilliseconds(200),
        });
        using var stop = new CancellationTokenSource();
        var run = runtime.RunAsync(stop.Token);
        using var producer = new ProducerBuilder<byte[], byte[]>(broker.ProducerConfig()).Build();
        var pools = Enumerable.Range(0, 6).Select(i => $"merchant-{i}").ToArray();
        var time = T0;

        void Produce<T>(string topic, ISerde<T> serde, string key, T value) =>
            producer.Produce(topic, new Message<byte[], byte[]>
            {
                Key = Serdes.Utf8.Serialize(key)!,
                Value = serde.Serialize(value)!,
                Timestamp = new Timestamp(time = time.AddMilliseconds(1)),
            });

        foreach (var p in pools)
        {
            Produce(topics.OperatorCommands, serdes.OperatorCommands, p, Location(p, "NYC", 40.71, -74.0));
            Produce(topics.OperatorCommands, serdes.OperatorCommands, p, Location(p, "LAX", 34.05, -118.24));
            Produce(topics.OperatorCommands, serdes.OperatorCommands, p, Receipt(p, $"{p}-r1", "NYC", ("A", 500), ("B", 500), ("C", 500)));
            Produce(topics.OperatorCommands, serdes.OperatorCommands, p, Receipt(p, $"{p}-r2", "LAX", ("A", 500), ("B", 500), ("C", 500)));
        }

        producer.Flush(TimeSpan.FromSeconds(30));
        // Orders go out only after the stock is booked, so the outcome does not depend on cross-topic fetch timing.
        Consume(topics.StockLevels, serdes.StockLevels, pools.Length * 6, TimeSpan.FromSeconds(60));

        var random = new Random(7);
        var ordered = new Dictionary<(string Pool, string Order), int>();
        for (var i = 0; i < 300; i++)
        {
            var p = pools[random.Next(pools.Length)];
            var lines = Enumerable.Range(0, 1 + random.Next(3)).Select(l => ("ABC"[l].ToString(), 1 + random.Next(3))).ToArray();
            ordered[(p, $"o{i}")] = lines.Sum(l => l.Item2);
            Produce(topics.Orders, serdes.Orders, p, Placed(p, $"o{i}", 30 + random.Next(15), -120 + random.Next(45), lines));
        }

        producer.Flush(TimeSpan.FromSeconds(30));
        var allocations = Consume(topics.Allocations, serdes.Allocations, ordered.Count, TimeSpan.FromSeconds(60));
        var levels = Consume(topics.StockLevels, serdes.StockLevels, int.MaxValue, TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await run;

        allocations.Select(a => a.Value.body).ShouldAllBe(b => b is AvroAllocationDecided);
        var decided = allocations.Select(a => (Pool: a.Key, Body: (AvroAllocationDecided)a.Value.body)).ToList();
        decided.Select(d => (d.Pool, d.Body.order_id)).ShouldBe(ordered.Keys, ignoreOrder: true);
        foreach (var (p, body) in decided)
        {
            body.lines.Sum(l => l.quantity).ShouldBe(ordered[(p, body.order_id)], $"{p}/{body.order_id} fully allocated");
        }

        // The last level published per pool × SKU × location matches the allocations decided there.
        var lastLevel = levels.Select(l => (l.Key, Body: l.Value.body as AvroStockLevelChanged)).Where(l => l.Body is not null)
            .GroupBy(l => (l.Key, l.Body!.sku, l.Body.location_id)).ToDictionary(g => g.Key, g => g.Last().Body!.allocated);
        var allocatedHere = decided.SelectMany(d => d.Body.lines.Select(l => (d.Pool, l.sku, l.location_id, l.quantity)))
            .GroupBy(x => (x.Pool, x.sku, x.location_id)).ToDictionary(g => g.Key, g => g.Sum(x => x.quantity));
        foreach (var (key, quantity) in allocatedHere)
        {
            lastLevel[key].ShouldBe(quantity, $"{key}");
        }
    }

    /// <summary>Reads a topic from the start until <paramref name="count"/> records arrived or the time is up.</summary>
    private List<KeyValuePair<string, T>> Consume<T>(string topic, ISerde<T> serde, int count, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(broker.ConsumerConfig("verify")).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<KeyValuePair<string, T>>();
        var clock = Stopwatch.StartNew();
        while (records.Count < count && clock.Elapsed < timeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: { } m } result)
            {
                // Outputs stay co-partitioned with the inputs: a pool's events live in the pool's partition.
                result.Partition.Value.ShouldBe(Murmur2.Partition(m.Key, Partitions), $"partition of {Serdes.Utf8.Deserialize(m.Key)} on {topic}");
                records.Add(new(Serdes.Utf8.Deserialize(m.Key), serde.Deserialize(m.Value)));
            }
        }

        if (count != int.MaxValue)
        {
            records.Count.ShouldBe(count, $"records on {topic}");
        }

        return records;
    }
}
