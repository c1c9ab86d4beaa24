using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Fulfillment.Hosting;
using Fulfillment.Processors.Inventory;
using Fulfillment.Processors.Runtime;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Schemas.Topics;
using Microsoft.Extensions.Options;

namespace Fulfillment.Processors.Worker;

/// <summary>Runs the inventory pool topology on the stream runtime. A failure of the runtime ends this service, and
/// with it the host (BackgroundServiceExceptionBehavior.StopHost in Fulfillment.Hosting): a live process with a dead
/// processor would look healthy while pools stop moving.</summary>
internal sealed partial class InventoryPoolWorker(
    IOptions<KafkaOptions> kafka,
    IOptions<ProcessorOptions> processor,
    ProcessorHealth health,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger<InventoryPoolWorker>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var topics = InventoryPoolTopics.Catalog;
        var schemaIds = await RegisterSchemasAsync(topics, stoppingToken);
        var topology = InventoryPoolTopology.Build(topics, InventoryPoolSerdes.Create(topics, subject => schemaIds[subject]), processor.Value.ApplicationId);
        foreach (var changelog in topology.ChangelogTopics)
        {
            // The broker must already have these with the pool partition count: an auto-created topic would get the
            // broker's default count and silently break co-partitioning.
            if (TopicCatalog.All.All(t => t.Name != changelog))
            {
                throw new InvalidOperationException($"Changelog topic '{changelog}' is not in the topic catalog; add it there so brokers pre-create it.");
            }
        }

        var runtime = new StreamRuntime(topology.Topology, new StreamRuntimeOptions
        {
            BootstrapServers = kafka.Value.BootstrapServers,
            StorageFactory = new RocksDbTaskStorageFactory(processor.Value.StateDirectory),
            SessionTimeout = processor.Value.SessionTimeout,
            ProcessingThreads = processor.Value.ProcessingThreads,
            ConsumerConfig = new ConsumerConfig(KafkaDefaults.Consumer(kafka.Value.BootstrapServers, processor.Value.ApplicationId))
            {
                FetchWaitMaxMs = processor.Value.FetchWaitMaxMs,
            },
            ProducerConfig = KafkaDefaults.Producer(kafka.Value.BootstrapServers),
        }, loggers.CreateLogger<StreamRuntime>());

        LogStarting(processor.Value.ApplicationId, processor.Value.StateDirectory);
        health.Running = true;
        try
        {
            await runtime.RunAsync(stoppingToken);
        }
        finally
        {
            health.Running = false;
        }
    }

    /// <summary>Registers (or finds) the value schema of every topic the processor touches and returns subject → id.
    /// Registration is idempotent, so every worker instance can do it at start.</summary>
    private async Task<Dictionary<string, int>> RegisterSchemasAsync(InventoryPoolTopics topics, CancellationToken ct)
    {
        var url = kafka.Value.SchemaRegistryUrl
            ?? throw new InvalidOperationException("Kafka:SchemaRegistryUrl is required by the processor worker (values are Confluent-framed Avro).");
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = url });
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var name in topics.All)
        {
            var spec = TopicCatalog.Get(name);
            var type = TopicCatalog.ValueTypeOf(spec)
                ?? throw new InvalidOperationException($"Topic '{name}' has no value schema in the catalog.");
            var schema = ((Avro.Specific.ISpecificRecord)Activator.CreateInstance(type)!).Schema.ToString();
            ids[name + "-value"] = await RetryAsync(() => registry.RegisterSchemaAsync(name + "-value", new Schema(schema, SchemaType.Avro)), ct);
        }

        return ids;
    }

    // The registry may still be starting when `up` starts this worker; wait for it rather than crash-loop.
    private async Task<int> RetryAsync(Func<Task<int>> call, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (HttpRequestException ex) when (attempt < 30)
            {
                LogRegistryUnavailable(attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Inventory pool processor starting: application {ApplicationId}, state in {StateDirectory}")]
    private partial void LogStarting(string applicationId, string stateDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schema registry not reachable (attempt {Attempt}): {Error}")]
    private partial void LogRegistryUnavailable(int attempt, string error);
}
