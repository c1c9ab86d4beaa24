using System.Net;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.DevBroker;
using Fulfillment.SchemaRegistry;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Stock;
using Fulfillment.Schemas.Topics;
using Fulfillment.Testing;

namespace Fulfillment.Processors.Worker.Tests;

/// <summary>Boots the deployable processor worker as its own process against a broker with the catalog topics and our
/// registry, the way <c>ops/fulfillment up</c> runs it, and pushes an order through it.</summary>
public sealed class InventoryPoolWorkerProcessTests
{
    private static readonly DateTime T0 = new(2026, 11, 1, 8, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Worker_OrderForStockedSku_PublishesAllocationToNearestStockedSiteThenFollowsChannelMapping()
    {
        using var cluster = MockCluster.Start(new MockClusterOptions
        {
            Topics = [.. TopicCatalog.All.Select(t => new MockTopic(t.Name, t.Partitions))],
        });
        await using var database = await PostgresDatabase.CreateAsync("worker");
        await using var registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", database.ConnectionString]);
        await registry.StartAsync();
        var registryUrl = registry.Urls.Single();
        var port = FreePorts.ConsecutiveRange();
        var state = Directory.CreateTempSubdirectory("worker-state-");
        using var worker = ProcessRunner.Start("dotnet", [WorkerDll(), "--urls", $"http://127.0.0.1:{port}"], new Dictionary<string, string?>
        {
            ["Kafka__BootstrapServers"] = cluster.BootstrapServers,
            ["Kafka__SchemaRegistryUrl"] = registryUrl,
            ["Processor__StateDirectory"] = state.FullName,
            ["Processor__SessionTimeout"] = "00:00:03",
        });
        try
        {
            await WaitHealthyAsync(port, worker);
            using var schemas = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
            var producerConfig = new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Partitioner = Partitioner.Murmur2Random };
            using var commands = new ProducerBuilder<string, OperatorCommand>(producerConfig).SetValueSerializer(new AvroSerializer<OperatorCommand>(schemas).AsSyncOverAsync()).Build();
            using var orders = new ProducerBuilder<string, OrderEvent>(producerConfig).SetValueSerializer(new AvroSerializer<OrderEvent>(schemas).AsSyncOverAsync()).Build();
            const string pool = "merchant-smoke";
            await commands.ProduceAsync(TopicCatalog.OperatorCommands.Name, Message(pool, Location(pool, "WH-EAST", 40.7, -74.0), 1));
            await commands.ProduceAsync(TopicCatalog.OperatorCommands.Name, Message(pool, Location(pool, "WH-WEST", 34.0, -118.2), 2));
            await commands.ProduceAsync(TopicCatalog.OperatorCommands.Name, Message(pool, Receipt(pool, "rcv-east", "WH-EAST", "SKU-1", 5), 3));
            await commands.ProduceAsync(TopicCatalog.OperatorCommands.Name, Message(pool, Receipt(pool, "rcv-west", "WH-WEST", "SKU-1", 5), 4));
            await orders.ProduceAsync(TopicCatalog.Orders.Name, Message(pool, Placed(pool, "order-1", 33.9, -118.4, "SKU-1", 2), 5));

            var decided = ConsumeDecision(cluster.BootstrapServers, schemas, "order-1", TimeSpan.FromSeconds(60));

            // An operator command added after the first release (channel → location mapping) goes through the
            // registry and the worker: Shopify may now only use WH-EAST, however near WH-WEST is.
            await commands.ProduceAsync(TopicCatalog.OperatorCommands.Name, Message(pool, new OperatorCommand
            {
                metadata = Metadata("map-shopify", pool),
                body = new ChannelLocationsSet { channel = Channel.Shopify, location_ids = ["WH-EAST"] },
            }, 6));
            await orders.ProduceAsync(TopicCatalog.Orders.Name, Message(pool, Placed(pool, "order-2", 33.9, -118.4, "SKU-1", 1), 7));
            var mapped = ConsumeDecision(cluster.BootstrapServers, schemas, "order-2", TimeSpan.FromSeconds(60));
            var receipt = Consume<StockLevelEvent>(cluster.BootstrapServers, schemas, TopicCatalog.StockLevels.Name, TimeSpan.FromSeconds(60),
                e => e.body is StockMoved { kind: StockMovementKind.Receipt, location_id: "WH-EAST" });

            decided.lines.ShouldAllBe(l => l.location_id == "WH-WEST");
            decided.lines.Sum(l => l.quantity).ShouldBe(2);
            mapped.lines.ShouldHaveSingleItem().location_id.ShouldBe("WH-EAST");
            var moved = receipt.body.ShouldBeOfType<StockMoved>();
            (moved.sku, moved.quantity, moved.on_hand_after, moved.reference).ShouldBe(("SKU-1", 5, 5, "rcv-east"));
        }
        finally
        {
            worker.Terminate();
            (await worker.WaitForExitAsync(TimeSpan.FromSeconds(30))).ShouldBe(0, worker.Output);
            await registry.StopAsync();
            state.Delete(recursive: true);
        }
    }

    private static AllocationDecided ConsumeDecision(string bootstrap, ISchemaRegistryClient schemas, string orderId, TimeSpan timeout) =>
        (AllocationDecided)Consume<AllocationEvent>(bootstrap, schemas, TopicCatalog.Allocations.Name, timeout,
            e => e.body is AllocationDecided decided && decided.order_id == orderId).body;

    private static T Consume<T>(string bootstrap, ISchemaRegistryClient schemas, string topic, TimeSpan timeout, Func<T, bool> match)
    {
        using var consumer = new ConsumerBuilder<string, T>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"worker-test-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).SetValueDeserializer(new AvroDeserializer<T>(schemas).AsSyncOverAsync()).Build();
        consumer.Subscribe(topic);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is not null && match(result.Message.Value))
            {
                return result.Message.Value;
            }
        }

        throw new TimeoutException($"No matching {typeof(T).Name} on {topic} within {timeout}.");
    }

    private static async Task WaitHealthyAsync(int port, ProcessRunner worker)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            worker.HasExited.ShouldBeFalse(worker.Output);
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet, or too slow to answer on a loaded machine: ask again until the deadline.
            }

            await Task.Delay(250);
        }

        throw new TimeoutException("Worker did not become healthy: " + worker.Output);
    }

    private static string WorkerDll()
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var dll = RepoPaths.Get("processors", "Fulfillment.Processors.Worker", "bin", configuration, "net10.0", "Fulfillment.Processors.Worker.dll");
        File.Exists(dll).ShouldBeTrue($"build the worker first: {dll}");
        return dll;
    }

    private static Message<string, T> Message<T>(string pool, T value, int second) =>
        new() { Key = pool, Value = value, Timestamp = new Timestamp(T0.AddSeconds(second)) };

    private static EventMetadata Metadata(string id, string pool) => new()
    {
        event_id = id, pool_id = pool, correlation_id = id, causation_id = id, source_system = "test", source_id = id, occurred_at = T0, recorded_at = T0,
    };

    private static OperatorCommand Location(string pool, string id, double lat, double lon) => new()
    {
        metadata = Metadata($"loc-{id}", pool),
        body = new LocationUpserted
        {
            location_id = id, name = id, kind = LocationKind.Warehouse, active = true, countries_served = ["US"],
            address = new Address { country_code = "US", latitude = lat, longitude = lon },
        },
    };

    private static OperatorCommand Receipt(string pool, string id, string location, string sku, int quantity) => new()
    {
        metadata = Metadata(id, pool),
        body = new StockReceived { location_id = location, receipt_id = id, lines = [new SkuQuantity { sku = sku, quantity = quantity }] },
    };

    private static OrderEvent Placed(string pool, string orderId, double lat, double lon, string sku, int quantity) => new()
    {
        metadata = Metadata($"placed-{orderId}", pool),
        body = new OrderPlaced
        {
            order = new ChannelOrder
            {
                order_id = orderId, channel = Channel.Shopify, shop_id = "shop", channel_order_id = orderId, placed_at = T0,
                lines = [new OrderLine { line_id = "1", sku = sku, quantity = quantity }],
                shipping_address = new Address { country_code = "US", latitude = lat, longitude = lon },
            },
        },
    };
}
