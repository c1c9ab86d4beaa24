using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Hosting;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.DeadLetters;
using Microsoft.Extensions.Options;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Produces outcome events and dead letters (Avro, registered schemas), waiting for Kafka's acknowledgement:
/// the outcome topic is the audit of side effects the hub caused outside itself. A registry or broker outage is waited
/// out (<see cref="TransientRetry"/>): an outcome that could not be recorded would leave its push unfinished, its record
/// uncommitted and the push never retried until a restart. Re-producing one is harmless: its event id is deterministic.</summary>
public sealed class KafkaPushRecorder : IPushRecorder, IDisposable
{
    private readonly IProducer<string, byte[]> _producer;
    private readonly CachedSchemaRegistryClient _registry;
    private readonly AvroSerializer<ChannelPushOutcome> _outcomes;
    private readonly AvroSerializer<DeadLetter> _deadLetters;
    private readonly ChannelSyncOptions _options;
    private readonly TransientRetry _retry;

    public KafkaPushRecorder(IOptions<KafkaOptions> kafka, IOptions<ChannelSyncOptions> options, ILogger<KafkaPushRecorder> logger)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _retry = new TransientRetry(null, logger, "Channel sync", ChannelSyncWorker.TransientErrors);
        _producer = new ProducerBuilder<string, byte[]>(KafkaDefaults.Producer(kafka.Value.BootstrapServers, "sink-channel-sync")).Build();
        _registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig
        {
            Url = kafka.Value.SchemaRegistryUrl ?? throw new InvalidOperationException("Kafka:SchemaRegistryUrl is required"),
        });
        _outcomes = new AvroSerializer<ChannelPushOutcome>(_registry);
        _deadLetters = new AvroSerializer<DeadLetter>(_registry);
    }

    public Task RecordAsync(ChannelPushOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return ProduceAsync("record_outcome", _outcomes, _options.OutcomesTopic, outcome.metadata.pool_id, outcome, cancellationToken);
    }

    public Task DeadLetterAsync(DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        return ProduceAsync("record_dead_letter", _deadLetters, _options.DeadLettersTopic, deadLetter.metadata.pool_id, deadLetter, cancellationToken);
    }

    /// <summary>Serializes (registering the schema on first use) and produces one record keyed by pool, waiting out a
    /// registry or broker outage.</summary>
    private Task ProduceAsync<T>(string operation, AvroSerializer<T> serializer, string topic, string poolId, T value, CancellationToken cancellationToken) =>
        _retry.RunAsync(operation, async () =>
        {
            var bytes = await serializer.SerializeAsync(value, new SerializationContext(MessageComponentType.Value, topic));
            await _producer.ProduceAsync(topic, new Message<string, byte[]> { Key = poolId, Value = bytes }, cancellationToken);
        }, cancellationToken);

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _registry.Dispose();
    }
}
