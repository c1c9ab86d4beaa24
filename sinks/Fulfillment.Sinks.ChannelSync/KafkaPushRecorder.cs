using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Hosting;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.DeadLetters;
using Microsoft.Extensions.Options;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Produces outcome events and dead letters (Avro, registered schemas), waiting for Kafka's acknowledgement:
/// the outcome topic is the audit of side effects the hub caused outside itself.</summary>
public sealed class KafkaPushRecorder : IPushRecorder, IDisposable
{
    private readonly IProducer<string, byte[]> _producer;
    private readonly CachedSchemaRegistryClient _registry;
    private readonly AvroSerializer<ChannelPushOutcome> _outcomes;
    private readonly AvroSerializer<DeadLetter> _deadLetters;
    private readonly ChannelSyncOptions _options;

    public KafkaPushRecorder(IOptions<KafkaOptions> kafka, IOptions<ChannelSyncOptions> options)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
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
        var value = await _outcomes.SerializeAsync(outcome, new SerializationContext(MessageComponentType.Value, _options.OutcomesTopic));
        await _producer.ProduceAsync(_options.OutcomesTopic, new Message<string, byte[]> { Key = outcome.metadata.pool_id, Value = value }, cancellationToken);
    }

    public async Task DeadLetterAsync(DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        var value = await _deadLetters.SerializeAsync(deadLetter, new SerializationContext(MessageComponentType.Value, _options.DeadLettersTopic));
        await _producer.ProduceAsync(_options.DeadLettersTopic, new Message<string, byte[]> { Key = deadLetter.metadata.pool_id, Value = value }, cancellationToken);
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _registry.Dispose();
    }
}
