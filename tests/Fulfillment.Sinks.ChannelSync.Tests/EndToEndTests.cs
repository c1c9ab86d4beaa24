using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.Processors.Inventory;
using Fulfillment.Processors.Runtime;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Fulfillment.Testing;
using Microsoft.AspNetCore.Builder;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;
using WildcardMatcher = WireMock.Matchers.WildcardMatcher;

namespace Fulfillment.Sinks.ChannelSync.Tests;

/// <summary>
/// The whole path, every piece real and in process: a signed channel webhook → the webhook receiver → orders topic →
/// the inventory pool processor (allocation) → a warehouse's ship confirmation on the shipments topic → the channel sync
/// worker → the channel's API (WireMock replaying the vendor's responses) with the tracking number.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private const int Partitions = 4;
    private const string Pool = "pool-e2e";
    private const string ShopifyDomain = "acme-outdoor.myshopify.com";
    private const string ShopifySecret = "shpss_e2e";
    private const string WooShop = "acme-woo";
    private const string WooSecret = "woo-e2e";
    private const string GraphQl = "/admin/api/2025-10/graphql.json";

    private readonly DevBrokerFixture _broker = new();
    private readonly InventoryPoolTopics _topics;
    private readonly string _raw = DevBrokerFixture.UniqueName("raw");
    private readonly string _outcomes = DevBrokerFixture.UniqueName("outcomes");
    private readonly string _syncDeadLetters = DevBrokerFixture.UniqueName("sync-dlq");
    private readonly CancellationTokenSource _stop = new();
    private PostgresDatabase? _database;
    private InProcessRegistry? _registry;
    private WebApplication? _webhooks;
    private WebApplication? _sync;
    private WireMockServer? _channels;
    private InventoryPoolSerdes? _serdes;
    private Task? _runtime;
    private HttpClient? _http;

    public EndToEndTests()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        _topics = new InventoryPoolTopics($"orders-{s}", $"movements-{s}", $"shipments-{s}", $"operator-{s}", $"allocations-{s}", $"levels-{s}", $"dlq-{s}");
    }

    public async Task InitializeAsync()
    {
        var pool = InventoryPoolTopology.Build(_topics, _serdes = InventoryPoolSerdes.Create(_topics, subject => subject.Length), $"inventory-{Guid.NewGuid():N}");
        foreach (var topic in _topics.All.Concat(pool.ChangelogTopics).Concat([_raw, _outcomes, _syncDeadLetters]))
        {
            _broker.Cluster.CreateTopic(topic, Partitions);
        }

        _database = await PostgresDatabase.CreateAsync("e2e");
        _registry = await InProcessRegistry.StartAsync(_database.ConnectionString);
        var registryUrl = _registry.Url;
        _channels = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePorts.ConsecutiveRange()}"] });

        _webhooks = WebhooksApp.Build([
            "--urls=http://127.0.0.1:0",
            $"--Kafka:BootstrapServers={_broker.BootstrapServers}",
            $"--Kafka:SchemaRegistryUrl={registryUrl}",
            $"--Postgres:ConnectionString={_database.ConnectionString}",
            $"--Connectors:RawIngestTopic={_raw}",
            $"--Connectors:OrdersTopic={_topics.Orders}",
            "--Channels:Shops:0:Channel=Shopify", $"--Channels:Shops:0:ShopId={ShopifyDomain}", $"--Channels:Shops:0:PoolId={Pool}", $"--Channels:Shops:0:Secret={ShopifySecret}",
            "--Channels:Shops:1:Channel=WooCommerce", $"--Channels:Shops:1:ShopId={WooShop}", $"--Channels:Shops:1:PoolId={Pool}", $"--Channels:Shops:1:Secret={WooSecret}",
        ]);
        await _webhooks.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri(_webhooks.Urls.Single()) };

        _sync = ChannelSyncApp.Build([
            "--urls=http://127.0.0.1:0",
            $"--Kafka:BootstrapServers={_broker.BootstrapServers}",
            $"--Kafka:SchemaRegistryUrl={registryUrl}",
            $"--ChannelSync:ShipmentsTopic={_topics.Shipments}",
            $"--ChannelSync:StockLevelsTopic={_topics.StockLevels}",
            $"--ChannelSync:OutcomesTopic={_outcomes}",
            $"--ChannelSync:DeadLettersTopic={_syncDeadLetters}",
            $"--ChannelSync:ConsumerGroup={DevBrokerFixture.UniqueName("sync")}",
            "--ChannelSync:Shops:0:Channel=Shopify", $"--ChannelSync:Shops:0:ShopId={ShopifyDomain}", $"--ChannelSync:Shops:0:BaseUrl={_channels.Urls[0]}", "--ChannelSync:Shops:0:Token=shpat_e2e",
            "--ChannelSync:Shops:1:Channel=WooCommerce", $"--ChannelSync:Shops:1:ShopId={WooShop}", $"--ChannelSync:Shops:1:BaseUrl={_channels.Urls[0]}", "--ChannelSync:Shops:1:Token=ck_e2e:cs_e2e",
        ]);
        await _sync.StartAsync();

        var runtime = new StreamRuntime(pool.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = _broker.BootstrapServers,
            StorageFactory = new InMemoryTaskStorageFactory(),
            SessionTimeout = TimeSpan.FromSeconds(3),
            CommitInterval = TimeSpan.FromMilliseconds(200),
            MaxTaskIdle = TimeSpan.Zero,
        });
        _runtime = runtime.RunAsync(_stop.Token);

        // The merchant's setup: two warehouses with stock of the SKUs the orders ask for.
        using var producer = new ProducerBuilder<byte[], byte[]>(_broker.ProducerConfig()).Build();
        foreach (var command in new[]
                 {
                     Location("OTT", "CA", 45.42, -75.69), Location("SFO", "US", 37.77, -122.42),
                     Receipt("r1", "OTT", ("TENT-2P-GRN", 10), ("MUG-TI-450", 10)), Receipt("r2", "SFO", ("STOVE-MINI", 10)),
                 })
        {
            producer.Produce(_topics.OperatorCommands, new Message<byte[], byte[]>
            {
                Key = Encoding.UTF8.GetBytes(Pool),
                Value = _serdes.OperatorCommands.Serialize(command)!,
            });
        }

        producer.Flush(TimeSpan.FromSeconds(10));

        // The processor merges its inputs without waiting for a lagging one (MaxTaskIdle zero), so an order fetched
        // before the receipts would be backordered: the tests post their webhooks only once both receipts took effect.
        WaitForStock(("TENT-2P-GRN", "OTT", 10), ("MUG-TI-450", "OTT", 10), ("STOVE-MINI", "SFO", 10));
    }

    [Fact]
    public async Task ShopifyOrderByWebhook_IsAllocatedAndItsShipmentBecomesFulfillmentCreateWithTracking()
    {
        _channels!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*FulfillmentState*"))).RespondWith(Json("""
            {"data":{"order":{"fulfillments":[],"fulfillmentOrders":{"nodes":[{"id":"gid://shopify/FulfillmentOrder/1046000778","status":"OPEN","lineItems":{"nodes":[
              {"id":"gid://shopify/FulfillmentOrderLineItem/1025578633","remainingQuantity":1,"lineItem":{"id":"gid://shopify/LineItem/866550311766439020"}},
              {"id":"gid://shopify/FulfillmentOrderLineItem/1025578634","remainingQuantity":2,"lineItem":{"id":"gid://shopify/LineItem/141249953214522974"}}]}}]}}}}
            """));
        _channels.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*CreateFulfillment*"))).RespondWith(Json("""
            {"data":{"fulfillmentCreate":{"fulfillment":{"id":"gid://shopify/Fulfillment/1069019876","status":"SUCCESS"},"userErrors":[]}}}
            """));
        var body = Encoding.UTF8.GetBytes(File.ReadAllText(Path.Combine(RepoPaths.Root, "connectors", "Fulfillment.Connectors.Webhooks.Bench", "shopify-order.json"))
            .Replace("{{ORDER_ID}}", "450789469", StringComparison.Ordinal));

        var reply = await PostAsync("/webhooks/shopify", body, ("X-Shopify-Topic", "orders/create"), ("X-Shopify-Shop-Domain", ShopifyDomain),
            ("X-Shopify-Event-Id", Guid.NewGuid().ToString()), ("X-Shopify-Hmac-Sha256", Sign(body, ShopifySecret)));
        reply.ShouldBe(System.Net.HttpStatusCode.OK);

        var orderId = $"shopify:{ShopifyDomain}:450789469";
        var allocation = WaitForAllocation(orderId);
        allocation.lines.Select(l => (l.sku, l.location_id)).ShouldBe([("TENT-2P-GRN", "OTT"), ("MUG-TI-450", "OTT")], ignoreOrder: true);

        // The warehouse ships it (WMS confirmation).
        await ProduceShipmentAsync(new ShipmentConfirmed
        {
            shipment_id = "shp-e2e-1", order_id = orderId, channel = Channel.Shopify, shop_id = ShopifyDomain, channel_order_id = "450789469",
            location_id = "OTT", carrier = "Canada Post", tracking_number = "7023210039414604", tracking_url = "https://www.canadapost-postescanada.ca/track-reperage/en#/details/7023210039414604",
            lines = [new ShipmentLine { line_id = "866550311766439020", sku = "TENT-2P-GRN", quantity = 1 }, new ShipmentLine { line_id = "141249953214522974", sku = "MUG-TI-450", quantity = 2 }],
        }, orderId);

        var outcome = await WaitForOutcomeAsync("450789469");
        outcome.outcome.ShouldBe(PushOutcome.Pushed);
        var mutation = _channels.LogEntries.Select(e => e.RequestMessage.Body ?? "").Single(b => b.Contains("CreateFulfillment", StringComparison.Ordinal));
        mutation.ShouldContain("7023210039414604");
        mutation.ShouldContain("gid://shopify/FulfillmentOrder/1046000778");
    }

    [Fact]
    public async Task WooCommerceOrderByWebhook_IsAllocatedAndItsShipmentCompletesTheOrderWithTracking()
    {
        _channels!.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/5501").UsingPut()).RespondWith(Json("""{"id":5501,"status":"completed"}"""));
        _channels.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/5501/notes").UsingGet()).RespondWith(Json("[]"));
        _channels.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/5501/notes").UsingPost()).RespondWith(Json("""{"id":281}""", 201));
        var body = Encoding.UTF8.GetBytes($$"""
            {"id":5501,"number":"5501","status":"processing","currency":"USD","date_created_gmt":"2025-11-20T12:15:02","date_modified_gmt":"2025-11-20T12:15:04",
             "shipping":{"first_name":"John","last_name":"Doe","address_1":"969 Market","city":"San Francisco","state":"CA","postcode":"94103","country":"US"},
             "line_items":[{"id":315,"name":"Mini Stove","product_id":93,"variation_id":0,"quantity":2,"sku":"STOVE-MINI","price":14.5}],
             "shipping_lines":[{"id":317,"method_title":"Flat Rate","method_id":"flat_rate","total":"10.00"}]}
            """);

        var reply = await PostAsync($"/webhooks/woocommerce/{WooShop}", body, ("X-WC-Webhook-Topic", "order.created"), ("X-WC-Webhook-Resource", "order"),
            ("X-WC-Webhook-Event", "created"), ("X-WC-Webhook-Delivery-ID", "d1"), ("X-WC-Webhook-Signature", Sign(body, WooSecret)));
        reply.ShouldBe(System.Net.HttpStatusCode.OK);

        var orderId = $"woocommerce:{WooShop}:5501";
        WaitForAllocation(orderId).lines.Single().location_id.ShouldBe("SFO");
        await ProduceShipmentAsync(new ShipmentConfirmed
        {
            shipment_id = "shp-e2e-2", order_id = orderId, channel = Channel.WooCommerce, shop_id = WooShop, channel_order_id = "5501",
            location_id = "SFO", carrier = "USPS", tracking_number = "9400111899223197428490",
            lines = [new ShipmentLine { line_id = "315", sku = "STOVE-MINI", quantity = 2 }],
        }, orderId);

        (await WaitForOutcomeAsync("5501")).outcome.ShouldBe(PushOutcome.Pushed);
        var update = _channels.LogEntries.Single(e => e.RequestMessage.Method == "PUT").RequestMessage.Body!;
        update.ShouldContain("\"completed\"");
        update.ShouldContain("9400111899223197428490");
    }

    private static IResponseBuilder Json(string body, int status = 200) =>
        Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithBody(body);

    private static string Sign(byte[] body, string secret) => Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    private async Task<System.Net.HttpStatusCode> PostAsync(string path, byte[] body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await _http!.SendAsync(request);
        return response.StatusCode;
    }

    private AllocationDecided WaitForAllocation(string orderId)
    {
        AllocationDecided? found = null;
        var seen = ReadFromStart(_topics.Allocations, "e2e-allocations",
            value => (found = _serdes!.Allocations.Deserialize(value).body as AllocationDecided)?.order_id == orderId);
        return seen ? found! : throw new TimeoutException($"No allocation for {orderId}.");
    }

    private void WaitForStock(params (string Sku, string Location, int OnHand)[] expected)
    {
        var missing = expected.ToHashSet();
        ReadFromStart(_topics.StockLevels, "e2e-stock", value =>
        {
            if (_serdes!.StockLevels.Deserialize(value).body is StockLevelChanged level)
            {
                missing.Remove((level.sku, level.location_id, level.on_hand));
            }

            return missing.Count == 0;
        });

        missing.ShouldBeEmpty("the opening stock never showed up on the stock-levels topic");
    }

    /// <summary>Reads every partition of <paramref name="topic"/> from the beginning until <paramref name="done"/> says
    /// a record completes what the caller waits for (true), or 60 s pass (false).</summary>
    private bool ReadFromStart(string topic, string group, Func<byte[], bool> done)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(_broker.ConsumerConfig(group)).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m } && done(m.Value))
            {
                return true;
            }
        }

        return false;
    }

    private async Task ProduceShipmentAsync(ShipmentConfirmed shipment, string orderId)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry!.Url });
        using var producer = new ProducerBuilder<string, ShipmentEvent>(_broker.ProducerConfig()).SetValueSerializer(new AvroSerializer<ShipmentEvent>(registry)).Build();
        var now = DateTime.UtcNow;
        await producer.ProduceAsync(_topics.Shipments, new Message<string, ShipmentEvent>
        {
            Key = Pool,
            Value = new ShipmentEvent
            {
                metadata = new EventMetadata
                {
                    event_id = $"shipped-{shipment.shipment_id}", pool_id = Pool, correlation_id = orderId, causation_id = "wms",
                    source_system = "wms", source_id = shipment.shipment_id, occurred_at = now, recorded_at = now,
                },
                body = shipment,
            },
        });
    }

    private async Task<ChannelPushOutcome> WaitForOutcomeAsync(string target)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry!.Url });
        var deserializer = new AvroDeserializer<ChannelPushOutcome>(registry);
        using var consumer = new ConsumerBuilder<string, byte[]>(_broker.ConsumerConfig("e2e-outcomes")).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(_outcomes, p, Offset.Beginning)));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } record)
            {
                var outcome = await deserializer.DeserializeAsync(record.Message.Value, false, new SerializationContext(MessageComponentType.Value, _outcomes));
                if (outcome.target_id == target && outcome.outcome != PushOutcome.Retrying)
                {
                    return outcome;
                }
            }
        }

        throw new TimeoutException($"No push outcome for {target}.");
    }

    private static OperatorCommand Location(string id, string country, double lat, double lon) => new()
    {
        metadata = Metadata($"loc-{id}"),
        body = new LocationUpserted
        {
            location_id = id, name = id, kind = LocationKind.Warehouse, active = true, countries_served = [country],
            address = new Address { country_code = country, latitude = lat, longitude = lon },
        },
    };

    private static OperatorCommand Receipt(string id, string location, params (string Sku, int Quantity)[] lines) => new()
    {
        metadata = Metadata(id),
        body = new StockReceived { location_id = location, receipt_id = id, lines = [.. lines.Select(l => new SkuQuantity { sku = l.Sku, quantity = l.Quantity })] },
    };

    private static EventMetadata Metadata(string id) => new()
    {
        event_id = id, pool_id = Pool, correlation_id = id, causation_id = id, source_system = "operator", source_id = id,
        occurred_at = new DateTime(2025, 11, 1, 0, 0, 0, DateTimeKind.Utc), recorded_at = new DateTime(2025, 11, 1, 0, 0, 0, DateTimeKind.Utc),
    };

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_runtime is not null)
        {
            await _runtime;
        }

        _http?.Dispose();
        foreach (var app in new[] { _sync, _webhooks })
        {
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }

        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }

        _channels?.Stop();
        _channels?.Dispose();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _stop.Dispose();
        _broker.Dispose();
    }
}
