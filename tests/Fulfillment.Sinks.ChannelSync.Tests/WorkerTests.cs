using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
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
    private DevBrokerFixture? _current; // the broker workers and helpers talk to (_broker unless a test restarts it)
    private readonly string _shipments = DevBrokerFixture.UniqueName("shipments");
    private readonly string _stock = DevBrokerFixture.UniqueName("stock-levels");
    private readonly string _outcomes = DevBrokerFixture.UniqueName("push-outcomes");
    private readonly string _deadLetters = DevBrokerFixture.UniqueName("dead-letters");
    private readonly string _group = DevBrokerFixture.UniqueName("sync");
    private PostgresDatabase? _database;
    private InProcessRegistry? _registry;
    private WebApplication? _worker;
    private WireMockServer? _shopify;

    public async Task InitializeAsync()
    {
        foreach (var topic in new[] { _shipments, _stock, _outcomes, _deadLetters })
        {
            _broker.Cluster.CreateTopic(topic, 12);
        }

        _database = await PostgresDatabase.CreateAsync("channelsync");
        _registry = await InProcessRegistry.StartAsync(_database.ConnectionString);
        _shopify = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePorts.ConsecutiveRange()}"] });
    }

    private DevBrokerFixture Broker => _current ?? _broker;

    /// <summary>Starts a worker process (host) in the given consumer group, replacing a stopped one.</summary>
    private async Task<WebApplication> StartWorkerAsync(string? group = null, bool withShop = true, bool ledger = false)
    {
        string[] shop =
        [
            "--ChannelSync:Shops:0:Channel=Shopify",
            $"--ChannelSync:Shops:0:ShopId={Shop}",
            $"--ChannelSync:Shops:0:BaseUrl={_shopify!.Urls[0]}",
            "--ChannelSync:Shops:0:Token=shpat_test",
            "--ChannelSync:Shops:0:LocationId=gid://shopify/Location/655441491",
        ];
        _worker = ChannelSyncApp.Build([
            .. withShop ? shop : [],
            "--urls=http://127.0.0.1:0",
            $"--Kafka:BootstrapServers={Broker.BootstrapServers}",
            $"--Kafka:SchemaRegistryUrl={_registry!.Url}",
            $"--ChannelSync:ShipmentsTopic={_shipments}",
            $"--ChannelSync:StockLevelsTopic={_stock}",
            .. ledger ? [$"--Postgres:ConnectionString={_database!.ConnectionString}", "--ChannelSync:LedgerSchema=sync_ledger"] : Array.Empty<string>(),
            $"--ChannelSync:OutcomesTopic={_outcomes}",
            $"--ChannelSync:DeadLettersTopic={_deadLetters}",
            $"--ChannelSync:ConsumerGroup={group ?? _group}",
            "--ChannelSync:StockCoalesceWindow=00:00:02",
        ]);
        await _worker.StartAsync();
        return _worker;
    }

    private async Task StopWorkerAsync()
    {
        if (_worker is not null)
        {
            await _worker.StopAsync();
            await _worker.DisposeAsync();
            _worker = null;
        }
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
        await StartWorkerAsync();

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
        await StartWorkerAsync();
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

    [Fact]
    public async Task FreshConsumerGroup_RecordsProducedBeforeItStarted_ArePushed()
    {
        // auto.offset.reset=error: a group without committed offsets starts at the beginning only because the worker
        // says so explicitly; without that, librdkafka would fail the partition instead of reading it.
        StubShopifyOrder(() => "");
        _shopify!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*CreateFulfillment*"))).RespondWith(Json(CreatedBody));
        var shipment = Shipments.Confirmed(Channel.Shopify, Shop, "450789470", "1Z999AA10123456785", ("866550311766439020", "TENT-2P-GRN", 1));
        await ProduceAsync(_shipments, shipment);

        await StartWorkerAsync(DevBrokerFixture.UniqueName("fresh"));

        (await WaitForOutcomeAsync(o => o.target_id == "450789470")).outcome.ShouldBe(PushOutcome.Pushed);
    }

    [Fact]
    public async Task WorkerRestartedWhileFulfillmentCreateIsInFlight_DoesNotCreateASecondFulfillment()
    {
        // The mutation reaches Shopify (which creates the fulfillment) but the worker is stopped before the answer
        // arrives, so the record is never committed and the restarted worker reads it again.
        const string tracking = "1Z999AA10123456786";
        var created = false;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        StubShopifyOrder(() => Volatile.Read(ref created) ? tracking : "");
        _shopify!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*CreateFulfillment*"))).RespondWith(Response.Create()
            .WithCallback(async _ =>
            {
                Volatile.Write(ref created, true);
                arrived.TrySetResult();
                await release.Task;
                return new WireMock.ResponseMessage
                {
                    StatusCode = 200,
                    BodyData = new WireMock.Util.BodyData { BodyAsString = CreatedBody, DetectedBodyType = WireMock.Types.BodyType.String },
                };
            }));
        var shipment = Shipments.Confirmed(Channel.Shopify, Shop, "450789471", tracking, ("866550311766439020", "TENT-2P-GRN", 1));
        await StartWorkerAsync();
        await ProduceAsync(_shipments, shipment);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(60));

        await StopWorkerAsync();
        release.TrySetResult();
        await StartWorkerAsync();

        var outcome = await WaitForOutcomeAsync(o => o.target_id == "450789471" && o.outcome == PushOutcome.Pushed);
        outcome.error.ShouldBe("already on the channel; not sent again");
        _shopify.LogEntries.Count(e => (e.RequestMessage.Body ?? "").Contains("CreateFulfillment", StringComparison.Ordinal)).ShouldBe(1);
    }

    [Fact]
    public async Task BrokerForgotEverything_ReDerivedShipmentAndStockEvents_AreNotPushedAgain()
    {
        // The embedded stack's development broker after a restart: the topics are re-seeded and re-derived (same event
        // ids, new offsets) and the consumer group's commits are gone. Shopify here never reports the fulfillment, so
        // only the handled-records ledger in Postgres can stop a second fulfillmentCreate.
        StubShopifyOrder(() => "");
        _shopify!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*CreateFulfillment*"))).RespondWith(Json(CreatedBody));
        _shopify.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*InventoryItemBySku*"))).RespondWith(Json("""
            {"data":{"productVariants":{"nodes":[{"sku":"MUG-TI-450","inventoryItem":{"id":"gid://shopify/InventoryItem/30322695"}}]}}}
            """));
        _shopify.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*SetAvailable*"))).RespondWith(Json("""
            {"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":{"id":"gid://shopify/InventoryAdjustmentGroup/11"},"userErrors":[]}}}
            """));
        var shipment = Shipments.Confirmed(Channel.Shopify, Shop, "450789480", "1Z999AA10123456790", ("866550311766439020", "TENT-2P-GRN", 1));
        var stock = StockChanged("MUG-TI-450", 7, DateTime.UtcNow);
        await StartWorkerAsync(ledger: true);
        await ProduceAsync(_shipments, shipment);
        await ProduceAsync(_stock, stock);
        await WaitForOutcomeAsync(o => o.target_id == "450789480" && o.outcome == PushOutcome.Pushed);
        await WaitForOutcomeAsync(o => o.push_id.EndsWith(stock.metadata.event_id, StringComparison.Ordinal) && o.outcome == PushOutcome.Pushed);
        await StopWorkerAsync();

        // A restarted development broker: empty, the same topic names, the re-derived records (same event ids) on them,
        // and a group that has never committed anything there.
        using var restarted = new DevBrokerFixture();
        foreach (var topic in new[] { _shipments, _stock, _outcomes, _deadLetters })
        {
            restarted.Cluster.CreateTopic(topic, 12);
        }

        _current = restarted;
        await ProduceAsync(_shipments, shipment);
        await ProduceAsync(_stock, stock);
        var later = StockChanged("MUG-TI-450", 5, DateTime.UtcNow);
        await ProduceAsync(_stock, later);
        await StartWorkerAsync(ledger: true);

        // The later figure is pushed (the worker did read past the re-derived records), the re-derived ones are not.
        await WaitForOutcomeAsync(o => o.push_id.EndsWith(later.metadata.event_id, StringComparison.Ordinal) && o.outcome == PushOutcome.Pushed);
        await Task.Delay(1000);
        await StopWorkerAsync();
        _shopify.LogEntries.Count(e => (e.RequestMessage.Body ?? "").Contains("CreateFulfillment", StringComparison.Ordinal)).ShouldBe(1);
        var sets = _shopify.LogEntries.Where(e => (e.RequestMessage.Body ?? "").Contains("SetAvailable", StringComparison.Ordinal)).ToList();
        sets.Count.ShouldBe(2);
        sets[^1].RequestMessage.Body!.ShouldContain("\"quantity\":5");
    }

    [Fact]
    public async Task EmptyChannelConfig_StartsHealthyCountsStockAsSkippedAndCallsNoChannel()
    {
        var worker = await StartWorkerAsync(withShop: false);
        using var http = new HttpClient { BaseAddress = new Uri(worker.Urls.Single()) };
        const string skipped = "fulfillment_channel_sync_stock_skipped_total{channel=\"Shopify\"}";
        var before = await MetricAsync(http, skipped);

        await ProduceAsync(_stock, StockChanged("MUG-TI-450", 5, DateTime.UtcNow));

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await MetricAsync(http, skipped) <= before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        (await MetricAsync(http, skipped)).ShouldBe(before + 1);
        (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        foreach (var name in new[] { "fulfillment_channel_sync_push_attempts_total", "fulfillment_channel_sync_push_duration_seconds",
                     "fulfillment_channel_sync_dead_letters_total", "fulfillment_channel_sync_stock_coalesced_total", "fulfillment_channel_sync_pushes_in_flight" })
        {
            metrics.ShouldContain($"# TYPE {name} ");
        }

        _shopify!.LogEntries.ShouldBeEmpty();
    }

    private static async Task<double> MetricAsync(HttpClient http, string series)
    {
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private const string CreatedBody = """
        {"data":{"fulfillmentCreate":{"fulfillment":{"id":"gid://shopify/Fulfillment/1069019876","status":"SUCCESS"},"userErrors":[]}}}
        """;

    /// <summary>The fulfillment-state query, answering with a fulfillment carrying the tracking number once there is one.</summary>
    private void StubShopifyOrder(Func<string> fulfilledTracking) =>
        _shopify!.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*FulfillmentState*"))).RespondWith(Response.Create()
            .WithCallback(_ =>
            {
                var tracking = fulfilledTracking();
                var fulfillments = tracking.Length == 0 ? "" : $$"""{"id":"gid://shopify/Fulfillment/1069019876","trackingInfo":[{"number":"{{tracking}}"}]}""";
                var body = """
                    {"data":{"order":{"fulfillments":[FULFILLMENTS],"fulfillmentOrders":{"nodes":[{"id":"gid://shopify/FulfillmentOrder/1046000778",
                     "status":"STATUS","lineItems":{"nodes":[{"id":"gid://shopify/FulfillmentOrderLineItem/1025578633",
                     "remainingQuantity":REMAINING,"lineItem":{"id":"gid://shopify/LineItem/866550311766439020"}}]}}]}}}}
                    """.Replace("FULFILLMENTS", fulfillments, StringComparison.Ordinal)
                    .Replace("STATUS", tracking.Length == 0 ? "OPEN" : "CLOSED", StringComparison.Ordinal)
                    .Replace("REMAINING", tracking.Length == 0 ? "1" : "0", StringComparison.Ordinal);
                return new WireMock.ResponseMessage
                {
                    StatusCode = 200,
                    BodyData = new WireMock.Util.BodyData { BodyAsString = body, DetectedBodyType = WireMock.Types.BodyType.String },
                };
            }));

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
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry!.Url });
        using var producer = new ProducerBuilder<string, T>(Broker.ProducerConfig()).SetValueSerializer(new AvroSerializer<T>(registry)).Build();
        await producer.ProduceAsync(topic, new Message<string, T> { Key = "pool-acme", Value = value });
    }

    private async Task<ChannelPushOutcome> WaitForOutcomeAsync(Func<ChannelPushOutcome, bool> match)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry!.Url });
        using var consumer = new ConsumerBuilder<string, ChannelPushOutcome>(Broker.ConsumerConfig("outcomes"))
            .SetValueDeserializer(new AvroDeserializer<ChannelPushOutcome>(registry).AsSyncOverAsync()).Build();
        consumer.Assign(Enumerable.Range(0, 12).Select(p => new TopicPartitionOffset(_outcomes, p, Offset.Beginning)));
        var deadline = DateTime.UtcNow.AddSeconds(60);
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
        await StopWorkerAsync();
        _shopify?.Stop();
        _shopify?.Dispose();
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _broker.Dispose();
    }
}
