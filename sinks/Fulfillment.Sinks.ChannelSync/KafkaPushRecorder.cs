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

    public async Task RecordAsync(ChannelPushOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        await _retry.RunAsync("record_outcome", async () =>
        {
            var value = await _outcomes.SerializeAsync(outcome, new SerializationContext(MessageComponentType.Value, _options.OutcomesTopic));
            await _producer.ProduceAsync(_options.OutcomesTopic, new Message<string, byte[]> { Key = outcome.metadata.pool_id, Value = value }, cancellationToken);
        }, cancellationToken);
    }

    public async Task DeadLetterAsync(DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        await _retry.RunAsync("record_dead_letter", async () =>
        {
            var value = await _deadLetters.SerializeAsync(deadLetter, new SerializationContext(MessageComponentType.Value, _options.DeadLettersTopic));
            await _producer.ProduceAsync(_options.DeadLettersTopic, new Message<string, byte[]> { Key = deadLetter.metadata.pool_id, Value = value }, cancellationToken);
        }, cancellationToken);
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _registry.Dispose();
    }
}
