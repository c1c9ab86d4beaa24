using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.SchemaRegistry;
using Fulfillment.Schemas.Orders;
using Fulfillment.Testing;
using Microsoft.AspNetCore.Builder;

namespace Fulfillment.Demo.Tests;

/// <summary>
/// The real webhook connector host in process (development broker, our registry, a test database), configured with the
/// demo's shop settings; the demo's own sender posts its traffic over real HTTP, and the demo's channel API stub answers
/// the connector's TikTok Shop order fetches.
/// </summary>
public sealed class WebhookEndToEndTests : IAsyncLifetime
{
    private readonly DevBrokerFixture _broker = new();
    private readonly string _ordersTopic = DevBrokerFixture.UniqueName("demo-orders");
    private readonly string _rawTopic = DevBrokerFixture.UniqueName("demo-raw");
    private readonly ChannelApiStub _stub = new();
    private PostgresDatabase? _database;
    private WebApplication? _registry;
    private WebApplication? _webhooks;
    private string _registryUrl = "";

    public async Task InitializeAsync()
    {
        _broker.Cluster.CreateTopic(_ordersTopic, 12);
        _broker.Cluster.CreateTopic(_rawTopic, 12);
        await _stub.StartAsync("http://127.0.0.1:0", CancellationToken.None);
        _database = await PostgresDatabase.CreateAsync("demo");
        _registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", _database.ConnectionString, "--Logging:LogLevel:Default", "Warning"]);
        await _registry.StartAsync();
        _registryUrl = _registry.Urls.Single();
        var settings = DemoTestShops.Settings(_stub.Url);
        settings["urls"] = "http://127.0.0.1:0";
        settings["Kafka:BootstrapServers"] = _broker.BootstrapServers;
        settings["Kafka:SchemaRegistryUrl"] = _registryUrl;
        settings["Postgres:ConnectionString"] = _database.ConnectionString;
        settings["Connectors:RawIngestTopic"] = _rawTopic;
        settings["Connectors:OrdersTopic"] = _ordersTopic;
        settings["Connectors:PollInterval"] = "00:00:01";
        settings["Logging:LogLevel:Default"] = "Warning";
        _webhooks = WebhooksApp.Build([.. settings.Select(kv => $"--{kv.Key}={kv.Value}")]);
        await _webhooks.StartAsync();
    }

    [Fact]
    public async Task DemoTraffic_RealConnectorOverHttp_EveryDeliveryAnsweredAsExpectedAndEveryOrderNormalized()
    {
        var generator = new OrderGenerator(DemoTestShops.DemoShopsFromSettings(), 21, OrderGenerator.NumberBaseFor(DateTime.UtcNow));
        using var sender = new WebhookSender(new Uri(_webhooks!.Urls.Single()));
        var orders = Enumerable.Range(0, 48).Select(_ => generator.Next(DateTime.UtcNow)).ToList();
        orders.Select(o => o.Shop.Channel).Distinct().Count().ShouldBe(4);
        orders.ForEach(_stub.Register);
        var creates = orders.Select(Payloads.Create).ToList();
        var cancelled = orders.Where((_, i) => i % 6 == 0).ToList();

        var results = new List<(WebhookDelivery Delivery, SendResult Result)>();
        foreach (var delivery in creates)
        {
            results.Add((delivery, await sender.SendAsync(delivery, CancellationToken.None)));
        }

        foreach (var delivery in creates.Take(8).Select(d => d.AsDuplicate())
                     .Concat(orders.Take(8).Select(o => Payloads.WithBadSignature(Payloads.Create(generator.Next(DateTime.UtcNow)))))
                     .Concat(orders.Take(8).Select(_ => Payloads.Malformed(generator.Next(DateTime.UtcNow))))
                     .Concat(cancelled.Select(o => Payloads.Cancel(o, DateTime.UtcNow))))
        {
            results.Add((delivery, await sender.SendAsync(delivery, CancellationToken.None)));
        }

        results.Where(r => !r.Result.Matches(r.Delivery)).Select(r => $"{r.Delivery.Channel} {r.Delivery.Kind}: {r.Result.Status} {r.Result.Outcome}").ShouldBeEmpty();
        results.Select(r => r.Result.Status).Distinct().Order().ShouldBe([200, 400, 401]);
        sender.Counters.Unexpected.ShouldBe(0);

        var wanted = orders.Select(o => o.HubOrderId).ToHashSet();
        var events = await WaitForAsync(all =>
            wanted.All(id => all.Any(e => e.body is OrderPlaced p && p.order.order_id == id))
            && cancelled.All(o => all.Any(e => e.body is OrderCancelled c && c.order_id == o.HubOrderId)));
        foreach (var order in orders)
        {
            var placed = events.Select(e => e.body).OfType<OrderPlaced>().Where(p => p.order.order_id == order.HubOrderId).ShouldHaveSingleItem();
            placed.order.lines.Select(l => (l.line_id, l.sku, l.quantity)).ShouldBe(order.HubLines.Select(l => (l.LineId, l.Sku, l.Quantity)));
            events.Single(e => e.body is OrderPlaced p && p.order.order_id == order.HubOrderId).metadata.pool_id.ShouldBe(order.Shop.PoolId);
        }

        // Duplicates were answered 200 but produced nothing new; forged and malformed deliveries produced nothing at all.
        events.Count(e => e.body is OrderPlaced).ShouldBe(orders.Count);
        events.Count(e => e.body is OrderCancelled).ShouldBe(cancelled.Count);
    }

    [Fact]
    public async Task EbayOrders_PublishedOnChannelApiStub_PolledAndNormalizedOnceEachWithCancellations()
    {
        var shops = DemoTestShops.DemoShopsFromSettings(_stub.Url);
        var generator = new OrderGenerator(shops.Where(s => s.Channel == ChannelKind.Ebay || s.Channel == ChannelKind.Shopify), 5, OrderGenerator.NumberBaseFor(DateTime.UtcNow), includePolled: true);
        var orders = new List<DemoOrder>();
        while (orders.Count < 12)
        {
            var order = generator.Next(DateTime.UtcNow);
            if (order.Shop.Channel == ChannelKind.Ebay)
            {
                _stub.PublishEbay(order);
                orders.Add(order);
            }
        }

        var cancelled = orders.Take(3).ToList();
        cancelled.ForEach(o => _stub.CancelEbay(o, DateTime.UtcNow.AddMilliseconds(5)));

        var wanted = orders.Select(o => o.HubOrderId).ToHashSet();
        var events = await WaitForAsync(all =>
            wanted.All(id => all.Any(e => e.body is OrderUpdated u && u.order.order_id == id) || cancelled.Any(c => c.HubOrderId == id))
            && cancelled.All(o => all.Any(e => e.body is OrderCancelled c && c.order_id == o.HubOrderId)));

        foreach (var order in orders.Except(cancelled))
        {
            // The poll re-reads an overlap every time; the dedupe key (orderId + lastModifiedDate) keeps one event per state.
            var updated = events.Select(e => e.body).OfType<OrderUpdated>().Where(u => u.order.order_id == order.HubOrderId).ShouldHaveSingleItem();
            updated.order.lines.Select(l => (l.line_id, l.sku, l.quantity)).ShouldBe(order.HubLines.Select(l => (l.LineId, l.Sku, l.Quantity)));
            events.First(e => e.body is OrderUpdated u && u.order.order_id == order.HubOrderId).metadata.pool_id.ShouldBe(DemoTestShops.AmazonPool);
        }

        events.Count(e => e.body is OrderCancelled).ShouldBe(cancelled.Count);
    }

    private async Task<List<OrderEvent>> WaitForAsync(Func<List<OrderEvent>, bool> done)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registryUrl });
        var deserializer = new AvroDeserializer<OrderEvent>(registry);
        using var consumer = new ConsumerBuilder<string, byte[]>(_broker.ConsumerConfig("demo-tests")).Build();
        consumer.Assign(Enumerable.Range(0, 12).Select(p => new TopicPartitionOffset(_ordersTopic, p, Offset.Beginning)));
        var events = new List<OrderEvent>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!done(events))
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, $"order events still missing after 60 s; {events.Count} read");
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is not null)
            {
                events.Add(await deserializer.DeserializeAsync(record.Message.Value, false,
                    new SerializationContext(MessageComponentType.Value, _ordersTopic, record.Message.Headers)));
            }
        }

        // Anything produced right behind the last awaited event (e.g. a wrongly produced duplicate) must be counted too.
        var settle = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < settle)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is not null)
            {
                events.Add(await deserializer.DeserializeAsync(record.Message.Value, false,
                    new SerializationContext(MessageComponentType.Value, _ordersTopic, record.Message.Headers)));
            }
        }

        return events;
    }

    public async Task DisposeAsync()
    {
        if (_webhooks is not null)
        {
            await _webhooks.StopAsync();
            await _webhooks.DisposeAsync();
        }

        if (_registry is not null)
        {
            await _registry.StopAsync();
            await _registry.DisposeAsync();
        }

        await _stub.DisposeAsync();
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _broker.Dispose();
    }
}
