using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.SchemaRegistry;
using Fulfillment.Sinks.Views.Projection;
using Fulfillment.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fulfillment.Sinks.Views.Tests.Infrastructure;

/// <summary>
/// Everything a views sink needs, real and in process: the development broker, our schema registry (on its own
/// database) and a database for the views. Shared per test collection; every test takes its own topics
/// (<see cref="CreateTopics"/>) and its own views schema.
/// </summary>
public sealed class SinkEnvironment : IAsyncLifetime
{
    private readonly DevBrokerFixture _broker = new();
    private PostgresDatabase? _registryDb;
    private WebApplication? _registry;

    public PostgresDatabase Database { get; private set; } = null!;

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public string BootstrapServers => _broker.BootstrapServers;

    public string RegistryUrl { get; private set; } = "";

    public CachedSchemaRegistryClient Registry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _registryDb = await PostgresDatabase.CreateAsync("views_registry");
        _registry = RegistryApp.Build(["--urls", "http://127.0.0.1:0", "--Postgres:ConnectionString", _registryDb.ConnectionString]);
        await _registry.StartAsync();
        RegistryUrl = _registry.Urls.Single();
        Registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = RegistryUrl });
        Database = await PostgresDatabase.CreateAsync("views");
        DataSource = NpgsqlDataSource.Create(Database.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        Registry.Dispose();
        await Database.DisposeAsync();
        if (_registry is not null)
        {
            await _registry.StopAsync();
            await _registry.DisposeAsync();
        }

        if (_registryDb is not null)
        {
            await _registryDb.DisposeAsync();
        }

        _broker.Dispose();
    }

    /// <summary>A unique set of the sink's topics on the broker.</summary>
    public ViewTopics CreateTopics(int partitions = 3) => new()
    {
        RawIngest = _broker.CreateTopic("raw", partitions),
        Orders = _broker.CreateTopic("orders", partitions),
        Allocations = _broker.CreateTopic("allocations", partitions),
        StockLevels = _broker.CreateTopic("stock-levels", partitions),
        Shipments = _broker.CreateTopic("shipments", partitions),
        Tracking = _broker.CreateTopic("tracking", partitions),
        ChannelPushOutcomes = _broker.CreateTopic("push-outcomes", partitions),
        DeadLetters = _broker.CreateTopic("dead-letters", partitions),
        OperatorCommands = _broker.CreateTopic("commands", partitions),
    };

    /// <summary>Options for a sink on <paramref name="topics"/> writing to a fresh schema.</summary>
    public static ViewsSinkOptions Options(ViewTopics topics, string? schema = null, int maxBatch = 5000) => new()
    {
        Schema = schema ?? UniqueSchema("v"),
        Consumer = "views-sink",
        GroupId = DevBrokerFixture.UniqueName("views"),
        MaxBatch = maxBatch,
        MaxBatchWaitMs = 20,
        SessionTimeoutMs = 3000,
        Topics = topics,
    };

    public static string UniqueSchema(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..30];

    public async Task MigrateAsync(string schema) => await SchemaMigrator.MigrateAllAsync(DataSource, schema, CancellationToken.None);

    public ViewsSink Sink(ViewsSinkOptions options) =>
        new(options, BootstrapServers, DataSource, new EventDecoder(Registry), NullLogger.Instance);

    public EventProducer Producer() => new(this);

    /// <summary>Projects <paramref name="records"/> straight through <see cref="Projector"/> and <see cref="ViewWriter"/>
    /// (no Kafka) into a fresh schema: batches of <paramref name="batchSizes"/> (cycled), each record at the next offset of
    /// its topic's partition 0, so list order is the topics' order.</summary>
    public async Task<string> ProjectAsync(IEnumerable<(string Topic, ISpecificRecord Value)> records, IReadOnlyList<int> batchSizes, string prefix = "p")
    {
        ArgumentNullException.ThrowIfNull(batchSizes);
        var schema = UniqueSchema(prefix);
        await MigrateAsync(schema);
        var writer = new ViewWriter(DataSource, schema, "test");
        var list = records.ToList();
        var offsets = new Dictionary<string, long>();
        for (int i = 0, b = 0; i < list.Count; b++)
        {
            var batch = new ViewBatch();
            var size = batchSizes[b % batchSizes.Count];
            foreach (var (topic, value) in list.Skip(i).Take(size))
            {
                var offset = offsets.GetValueOrDefault(topic);
                offsets[topic] = offset + 1;
                Projector.Apply(batch, topic, 0, offset, value);
                batch.NextOffsets[(topic, 0)] = offset + 1;
            }

            await writer.WriteAsync(batch, CancellationToken.None);
            i += size;
        }

        return schema;
    }

    /// <summary>End offsets of every partition of <paramref name="topics"/> (what a bounded sink run reads up to).</summary>
    public Dictionary<TopicPartition, long> EndOffsets(ViewTopics topics)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = BootstrapServers, GroupId = "probe" }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        var result = new Dictionary<TopicPartition, long>();
        foreach (var (_, name) in topics.All())
        {
            foreach (var p in admin.GetMetadata(name, TimeSpan.FromSeconds(10)).Topics.Single().Partitions)
            {
                var tp = new TopicPartition(name, p.PartitionId);
                result[tp] = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value;
            }
        }

        return result;
    }

    /// <summary>Migrates <paramref name="options"/>' schema and runs a sink until it has read everything now on the topics.</summary>
    public async Task<ViewsSink> RunToEndAsync(ViewsSinkOptions options)
    {
        await MigrateAsync(options.Schema);
        var sink = Sink(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await sink.RunToAsync(EndOffsets(options.Topics), cts.Token);
        return sink;
    }

    /// <summary>Produces Avro values the way every hub worker does (Confluent wire format, auto-registered schemas,
    /// key = pool id, murmur2).</summary>
    public sealed class EventProducer : IDisposable
    {
        private readonly IProducer<string, byte[]> _producer;
        private readonly CachedSchemaRegistryClient _registry;
        private readonly Dictionary<Type, object> _serializers = [];

        public EventProducer(SinkEnvironment env)
        {
            _registry = env.Registry;
            var config = Fulfillment.Hosting.KafkaDefaults.Producer(env.BootstrapServers);
            _producer = new ProducerBuilder<string, byte[]>(config).Build();
        }

        public async Task<byte[]> SerializeAsync<T>(string topic, T value)
            where T : ISpecificRecord
        {
            if (!_serializers.TryGetValue(typeof(T), out var serializer))
            {
                serializer = new AvroSerializer<T>(_registry, new AvroSerializerConfig { AutoRegisterSchemas = true });
                _serializers[typeof(T)] = serializer;
            }

            return await ((AvroSerializer<T>)serializer).SerializeAsync(value, new SerializationContext(MessageComponentType.Value, topic));
        }

        public async Task SendAsync<T>(string topic, string key, T value)
            where T : ISpecificRecord
        {
            var bytes = await SerializeAsync(topic, value);
            Send(topic, key, bytes);
        }

        public void Send(string topic, string key, byte[] value) =>
            _producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = value });

        public void Flush() => _producer.Flush(TimeSpan.FromSeconds(60));

        public void Dispose() => _producer.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SinkCollection : ICollectionFixture<SinkEnvironment>
{
    public const string Name = "sink";
}
