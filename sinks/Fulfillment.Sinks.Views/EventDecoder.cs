using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Fulfillment.Schemas.Tracking;

namespace Fulfillment.Sinks.Views;

/// <summary>Decodes Confluent wire-format Avro values (magic byte, schema id, body) into the generated classes, resolving
/// the writer schema through the registry so values written with older schemas still read.</summary>
public sealed class EventDecoder
{
    private readonly Dictionary<TopicKind, Func<byte[], SerializationContext, Task<ISpecificRecord>>> _byKind;

    public EventDecoder(ISchemaRegistryClient registry)
    {
        _byKind = new()
        {
            [TopicKind.RawIngest] = For<RawIngestRecord>(registry),
            [TopicKind.Orders] = For<OrderEvent>(registry),
            [TopicKind.Allocations] = For<AllocationEvent>(registry),
            [TopicKind.StockLevels] = For<StockLevelEvent>(registry),
            [TopicKind.Shipments] = For<ShipmentEvent>(registry),
            [TopicKind.Tracking] = For<TrackingEvent>(registry),
            [TopicKind.ChannelPushOutcomes] = For<ChannelPushOutcome>(registry),
            [TopicKind.DeadLetters] = For<DeadLetter>(registry),
            [TopicKind.OperatorCommands] = For<OperatorCommand>(registry),
        };
    }

    public Task<ISpecificRecord> DecodeAsync(TopicKind kind, string topic, byte[] value) =>
        _byKind[kind](value, new SerializationContext(MessageComponentType.Value, topic));

    private static Func<byte[], SerializationContext, Task<ISpecificRecord>> For<T>(ISchemaRegistryClient registry)
        where T : ISpecificRecord
    {
        var deserializer = new AvroDeserializer<T>(registry);
        return async (bytes, context) => await deserializer.DeserializeAsync(bytes, isNull: false, context);
    }
}
