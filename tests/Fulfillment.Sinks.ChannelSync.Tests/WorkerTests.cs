using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Fulfillment.SchemaRegistry;
using Fulfillment.Testing;
using Microsoft.AspNetCore.Builder;
using WireMock.Matchers;
using Confluent.Kafka.SyncOverAsync;
using WildcardMatcher = WireMock.Matchers.WildcardMatcher;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace Fulfillment.Sinks.ChannelSync.Tests;

/// <summary>The worker host end to end: events in through the development broker (Avro via our registry), calls out to a
/// WireMock Shopify, outcome events back on the topic.</summary>
public sealed class WorkerTests : IAsyncLifetime
{
    private const string Shop = "acme-outdoor.myshopify.com";
    private const string GraphQl = "/admin/api/2025-10/graphql.json";
    private readonly DevBrokerFixture _broker = new();
    private readonly string _shipments = DevBrokerFixture.UniqueName("shipments");
    private readonly string _stock = DevBrokerFixture.UniqueName("stock-levels");
    private readonly string _outcomes = DevBrokerFixture.UniqueName("push-outcomes");
    private readonly string _deadLetters = DevBrokerFixture.UniqueName("dead-letters");
    private PostgresDatabase? _database;
    private WebApplication? _registry;
    private WebApplication? _worker;
    private WireMockServer? _shopify;

    public async Task InitializeAsync()
    {
        foreach (var topic in new[] { _shipments, _stock, _outcomes, _deadLetters })
        {
            _broker.Cluster.CreateTopic(topic, 12);
        }

        _database = await PostgresDatabase.CreateAsync("channelsync");
        _registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", _database.ConnectionString]);
        await _registry.StartAsync();
        _shopify = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePorts.ConsecutiveRange()}"] });
        _worker = ChannelSyncApp.Build([
            "--urls=http://127.0.0.1:0",
            $"--Kafka:BootstrapServers={_broker.BootstrapServers}",
            $"--Kafka:SchemaRegistryUrl={_registry.Urls.Single()}",
            $"--ChannelSync:ShipmentsTopic={_shipments}",
            $"--ChannelSync:StockLevelsTopic={_stock}",
            $"--ChannelSync:OutcomesTopic={_outcomes}",
            $"--ChannelSync:DeadLettersTopic={_deadLetters}",
            $"--ChannelSync:ConsumerGroup={DevBrokerFixture.UniqueName("sync")}",
            "--ChannelSync:StockCoalesceWindow=00:00:02",
            "--ChannelSync:Shops:0:Channel=Shopify",
            $"--ChannelSync:Shops:0:ShopId={Shop}",
            $"--ChannelSync:Shops:0:BaseUrl={_shopify.Urls[0]}",
            "--ChannelSync:Shops:0:Token=shpat_test",
            "--ChannelSync:Shops:0:LocationId=gid://shopify/Location/655441491",
        ]);
        await _worker.StartAsync();
    }

    [Fact]
    public async Task ShipmentConfirmedOnTopic_PushesFulfillmentCreateAndRecordsPushedOutcome()
    {
        _shopify!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*FulfillmentState*"))).RespondWith(Json("""
            {"data":{"order":{"fulfillments":[],"fulfillmentOrders":{"nodes":[{"id":"gid://shopify/FulfillmentOrder/1046000778","status":"OPEN",
             "lineItems":{"nodes":[{"id":"gid://shopify/FulfillmentOrderLineItem/1025578633","remainingQuantity":1,"lineItem":{"id":"gid://shopify/LineItem/866550311766439020"}}]}}]}}}}
            """));
        _shopify.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*CreateFulfillment*"))).RespondWith(Json("""
            {"data":{"fulfillmentCreate":{"fulfillment":{"id":"gid://shopify/Fulfillment/1069019876","status":"SUCCESS"},"userErrors":[]}}}
            """));
        var shipment = Shipments.Confirmed(Channel.Shopify, Shop, "450789469", "1Z999AA10123456784", ("866550311766439020", "TENT-2P-GRN", 1));

        await ProduceAsync(_shipments, shipment);

        var outcome = await WaitForOutcomeAsync(o => o.target_id == "450789469");
        outcome.outcome.ShouldBe(PushOutcome.Pushed);
        outcome.push_id.ShouldBe($"shipment:{((ShipmentConfirmed)shipment.body).shipment_id}");
        outcome.metadata.causation_id.ShouldBe(shipment.metadata.event_id);
        _shopify.LogEntries.Count(e => (e.RequestMessage.Body ?? "").Contains("CreateFulfillment", StringComparison.Ordinal)).ShouldBe(1);
        (_shopify.LogEntries.Single(e => (e.RequestMessage.Body ?? "").Contains("CreateFulfillment", StringComparison.Ordinal)).RequestMessage.Body ?? "")
            .ShouldContain("1Z999AA10123456784");
    }

    [Fact]
    public async Task StockBurstForOneSku_IsCoalescedIntoFewerPushesEndingAtTheLastFigure()
    {
        _shopify!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*InventoryItemBySku*"))).RespondWith(Json("""
            {"data":{"productVariants":{"nodes":[{"sku":"MUG-TI-450","inventoryItem":{"id":"gid://shopify/InventoryItem/30322695"}}]}}}
            """));
        _shopify.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*SetAvailable*"))).RespondWith(Json("""
            {"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":{"id":"gid://shopify/InventoryAdjustmentGroup/11"},"userErrors":[]}}}
            """));
        var at = DateTime.UtcNow;
        for (var available = 20; available > 10; available--)
        {
            await ProduceAsync(_stock, StockChanged("MUG-TI-450", available, at.AddMilliseconds(20 - available)));
        }

        await WaitForOutcomeAsync(o => o.operation == PushOperation.SetInventory && o.outcome == PushOutcome.Pushed);
        await Task.Delay(2500);
        var sets = _shopify.LogEntries.Where(e => (e.RequestMessage.Body ?? "").Contains("SetAvailable", StringComparison.Ordinal)).ToList();
        sets.Count.ShouldBeInRange(1, 3);
        sets[^1].RequestMessage.Body!.ShouldContain("\"quantity\":11");
    }

    private static StockLevelEvent StockChanged(string sku, int available, DateTime at) => new()
    {
        metadata = new EventMetadata
        {
            event_id = Guid.NewGuid().ToString(),
            pool_id = "pool-acme",
            correlation_id = sku,
            causation_id = "alloc",
            source_system = "inventory-pool",
            source_id = "x",
            occurred_at = at,
            recorded_at = at,
        },
        body = new StockLevelChanged
        {
            sku = sku,
            location_id = "wh-east",
            on_hand = available,
            allocated = 0,
            safety_stock = 0,
            available = available,
            in_transit = 0,
            channel_available_to_sell = [new ChannelStock { channel = Channel.Shopify, shop_id = Shop, available_to_sell = available }],
        },
    };

    private static IResponseBuilder Json(string body) => Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody(body);

    private async Task ProduceAsync<T>(string topic, T value)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry!.Urls.Single() });
        using var producer = new ProducerBuilder<string, T>(_broker.ProducerConfig()).SetValueSerializer(new AvroSerializer<T>(registry)).Build();
        await producer.ProduceAsync(topic, new Message<string, T> { Key = "pool-acme", Value = value });
    }

    private async Task<ChannelPushOutcome> WaitForOutcomeAsync(Func<ChannelPushOutcome, bool> match)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry!.Urls.Single() });
        using var consumer = new ConsumerBuilder<string, ChannelPushOutcome>(_broker.ConsumerConfig("outcomes"))
            .SetValueDeserializer(new AvroDeserializer<ChannelPushOutcome>(registry).AsSyncOverAsync()).Build();
        consumer.Assign(Enumerable.Range(0, 12).Select(p => new TopicPartitionOffset(_outcomes, p, Offset.Beginning)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } record && match(record.Message.Value))
            {
                return record.Message.Value;
            }
        }

        throw new TimeoutException("No matching push outcome arrived.");
    }

    public async Task DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.StopAsync();
            await _worker.DisposeAsync();
        }

        _shopify?.Stop();
        _shopify?.Dispose();
        if (_registry is not null)
        {
            await _registry.StopAsync();
            await _registry.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _broker.Dispose();
    }
}
