using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.SchemaRegistry;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;
using Fulfillment.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Fulfillment.Connectors.Tests.Infrastructure;

[CollectionDefinition(Name)]
public sealed class ConnectorStackCollection : ICollectionFixture<ConnectorStack>
{
    public const string Name = "connector stack";
}

/// <summary>
/// The real pieces, in process: the development broker (librdkafka mock cluster), our schema registry on a test
/// database, and the webhook receiver host on 127.0.0.1:0 with its own topics. Tests talk to the receiver over HTTP and
/// read what it produced back through the broker with the Confluent Avro deserializer against the registry.
/// </summary>
public sealed class ConnectorStack : IAsyncLifetime
{
    public const string ShopifyDomain = "acme-outdoor.myshopify.com";
    public const string ShopifySecret = "shpss_test_4f1c2d3e5a6b7c8d9e0f";
    public const string WooShop = "acme-woo";
    public const string WooSecret = "woo-webhook-secret-9d8c7b";
    public const string TikTokShopId = "7495123456789012345";
    public const string TikTokAppKey = "6abc1def2ghi3";
    public const string TikTokAppSecret = "tts-app-secret-5e6f7a8b";
    public const string AmazonSellerId = "A2EUQ1WTGCTBG2";
    public const string AmazonApiKey = "relay-api-key-1a2b3c4d";
    public const string EbaySeller = "acme_outdoor";
    public const string PoolId = "pool-acme";
    public const string AmazonPoolId = "pool-acme-amazon";

    /// <summary>SKUs in the pool's catalog; anything else is flagged UnknownSku.</summary>
    public static readonly string[] KnownSkus = ["TENT-2P-GRN", "STOVE-MINI", "MUG-TI-450", "BOOT-W-42"];

    private readonly DevBrokerFixture _broker = new();
    private PostgresDatabase? _database;
    private WebApplication? _registry;
    private WebApplication? _webhooks;

    /// <summary>Stands in for the TikTok Shop Partner API (order detail), replaying its documented responses.</summary>
    public WireMock.Server.WireMockServer TikTokApi { get; } = WireMock.Server.WireMockServer.Start(
        new WireMock.Settings.WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePorts.ConsecutiveRange()}"] });

    public string BootstrapServers => _broker.BootstrapServers;

    public string RegistryUrl { get; private set; } = "";

    public string RawTopic { get; } = DevBrokerFixture.UniqueName("raw-ingest");

    public string OrdersTopic { get; } = DevBrokerFixture.UniqueName("orders");

    public HttpClient Http { get; private set; } = null!;

    public IServiceProvider Services => _webhooks!.Services;

    public string ConnectionString => _database!.ConnectionString;

    /// <summary>Environment variable the Shopify shop's secret is read from, as in production.</summary>
    public static string ShopifySecretVariable { get; } = "FULFILLMENT_TEST_SHOPIFY_SECRET_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();

    public async Task InitializeAsync()
    {
        _broker.Cluster.CreateTopic(RawTopic, 12);
        _broker.Cluster.CreateTopic(OrdersTopic, 12);
        _database = await PostgresDatabase.CreateAsync("connectors");
        _registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", _database.ConnectionString]);
        await _registry.StartAsync();
        RegistryUrl = _registry.Urls.Single();

        Environment.SetEnvironmentVariable(ShopifySecretVariable, ShopifySecret);
        _webhooks = WebhooksApp.Build(Args(), ConfigureServices);
        await _webhooks.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri(_webhooks.Urls.Single()) };
    }

    /// <summary>Hook for registrations the tests need (the Amazon queue).</summary>
    public static InMemoryNotificationQueue AmazonQueue { get; } = new("sp-api-notifications-test");

    private static void ConfigureServices(IServiceCollection services) =>
        services.AddSingleton<IAmazonNotificationQueue>(AmazonQueue);

    private string[] Args()
    {
        var settings = new Dictionary<string, string>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Kafka:BootstrapServers"] = BootstrapServers,
            ["Kafka:SchemaRegistryUrl"] = RegistryUrl,
            ["Postgres:ConnectionString"] = _database!.ConnectionString,
            ["Connectors:RawIngestTopic"] = RawTopic,
            ["Connectors:OrdersTopic"] = OrdersTopic,
            // The sweeper is driven by the tests (SweepOnceAsync); keep the timer out of their way.
            ["Connectors:SweepInterval"] = "01:00:00",
            ["Connectors:SweepAfter"] = "00:00:00",
            // Small per-unknown-shop budget so the rate limit test needs few requests; the per-address budget (all tests
            // send from 127.0.0.1) keeps its default, well above what the suite sends unauthenticated.
            ["Connectors:UnknownShopBurst"] = "3",
            ["Connectors:UnknownShopPerMinute"] = "1",
            ["Channels:Shops:0:Channel"] = "Shopify",
            ["Channels:Shops:0:ShopId"] = ShopifyDomain,
            ["Channels:Shops:0:PoolId"] = PoolId,
            ["Channels:Shops:0:SecretEnvironmentVariable"] = ShopifySecretVariable,
            ["Channels:Shops:1:Channel"] = "WooCommerce",
            ["Channels:Shops:1:ShopId"] = WooShop,
            ["Channels:Shops:1:PoolId"] = PoolId,
            ["Channels:Shops:1:Secret"] = WooSecret,
            ["Channels:Shops:2:Channel"] = "TikTokShop",
            ["Channels:Shops:2:ShopId"] = TikTokShopId,
            ["Channels:Shops:2:PoolId"] = PoolId,
            ["Channels:Shops:2:Secret"] = TikTokAppSecret,
            ["Channels:Shops:2:AppKey"] = TikTokAppKey,
            ["Channels:Shops:2:ApiBaseUrl"] = TikTokApi.Urls[0],
            ["Channels:Shops:2:ApiToken"] = "tts-access-token",
            ["Channels:Shops:2:ShopCipher"] = "ROW_abc123",
            ["Channels:Shops:3:Channel"] = "Amazon",
            ["Channels:Shops:3:ShopId"] = AmazonSellerId,
            ["Channels:Shops:3:PoolId"] = AmazonPoolId,
            ["Channels:Shops:3:Secret"] = AmazonApiKey,
            // eBay is polled only: no webhook secret.
            ["Channels:Shops:4:Channel"] = "Ebay",
            ["Channels:Shops:4:ShopId"] = EbaySeller,
            ["Channels:Shops:4:PoolId"] = PoolId,
        };
        for (var i = 0; i < KnownSkus.Length; i++)
        {
            settings[$"Channels:SkuCatalogs:{PoolId}:{i}"] = KnownSkus[i];
            settings[$"Channels:SkuCatalogs:{AmazonPoolId}:{i}"] = KnownSkus[i];
        }

        return [.. settings.Select(kv => $"--{kv.Key}={kv.Value}")];
    }

    public static string ShopifyHmac(byte[] body, string secret = ShopifySecret) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public static string TikTokSignature(byte[] body, string appKey = TikTokAppKey, string secret = TikTokAppSecret) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), (byte[])[.. Encoding.UTF8.GetBytes(appKey), .. body]));

    /// <summary>Every order event on the orders topic so far, deserialized by the real Confluent Avro deserializer.</summary>
    public Task<List<(string Key, OrderEvent Value)>> ReadOrdersAsync() => ReadAllAsync<OrderEvent>(OrdersTopic);

    /// <summary>Every raw record on the raw topic so far.</summary>
    public Task<List<(string Key, RawIngestRecord Value)>> ReadRawAsync() => ReadAllAsync<RawIngestRecord>(RawTopic);

    /// <summary>Waits until <paramref name="predicate"/> holds for the order events read (or fails after 20 s).</summary>
    public async Task<List<(string Key, OrderEvent Value)>> WaitForOrdersAsync(Func<List<(string Key, OrderEvent Value)>, bool> predicate)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var events = await ReadOrdersAsync();
            if (predicate(events))
            {
                return events;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected order events did not arrive; {events.Count} on the topic.");
            }

            await Task.Delay(100);
        }
    }

    public async Task<List<(string Key, RawIngestRecord Value)>> WaitForRawAsync(Func<RawIngestRecord, bool> match, int count = 1)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var records = (await ReadRawAsync()).Where(r => match(r.Value)).ToList();
            if (records.Count >= count)
            {
                return records;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected raw records did not arrive; {records.Count} matched.");
            }

            await Task.Delay(100);
        }
    }

    private async Task<List<(string Key, T Value)>> ReadAllAsync<T>(string topic)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = RegistryUrl });
        var deserializer = new AvroDeserializer<T>(registry);
        var config = _broker.ConsumerConfig("connector-tests");
        // Positions are assigned explicitly from the low watermarks; a position the broker no longer has must fail, not skip.
        config.AutoOffsetReset = AutoOffsetReset.Error;
        using var consumer = new ConsumerBuilder<string, byte[]>(config).Build();
        var partitions = new List<TopicPartitionOffset>();
        var ends = new Dictionary<int, long>();
        for (var p = 0; p < 12; p++)
        {
            var tp = new TopicPartition(topic, p);
            var watermarks = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5));
            if (watermarks.High > watermarks.Low)
            {
                partitions.Add(new TopicPartitionOffset(tp, watermarks.Low));
                ends[p] = watermarks.High;
            }
        }

        var result = new List<(string, T)>();
        if (partitions.Count == 0)
        {
            return result;
        }

        consumer.Assign(partitions);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (ends.Count > 0 && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record is null)
            {
                continue;
            }

            var value = await deserializer.DeserializeAsync(record.Message.Value, false,
                new SerializationContext(MessageComponentType.Value, topic, record.Message.Headers));
            result.Add((record.Message.Key, value));
            // Records produced after the watermarks were read may arrive too; the partition is done once its end is reached.
            if (ends.TryGetValue(record.Partition.Value, out var end) && record.Offset.Value + 1 >= end)
            {
                ends.Remove(record.Partition.Value);
            }
        }

        return result;
    }

    /// <summary>The stored row(s) of a delivery.</summary>
    public async Task<List<StoredDelivery>> StoredAsync(string source, string deliveryId)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT status, accepted, signature_verified, rejection_reason, body, NOT EXISTS (SELECT 1 FROM raw_unpublished u WHERE u.id = r.id) FROM raw_deliveries r WHERE source = @s AND delivery_id = @d", connection);
        command.Parameters.AddWithValue("s", source);
        command.Parameters.AddWithValue("d", deliveryId);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<StoredDelivery>();
        while (await reader.ReadAsync())
        {
            rows.Add(new StoredDelivery(reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), (byte[])reader[4], reader.GetBoolean(5)));
        }

        return rows;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
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

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        TikTokApi.Stop();
        TikTokApi.Dispose();
        _broker.Dispose();
        Environment.SetEnvironmentVariable(ShopifySecretVariable, null);
    }
}

public sealed record StoredDelivery(string Status, bool Accepted, bool SignatureVerified, string? RejectionReason, byte[] Body, bool Published);
