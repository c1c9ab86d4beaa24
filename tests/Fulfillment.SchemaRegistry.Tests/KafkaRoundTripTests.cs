using Avro;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.SchemaRegistry.Tests.Infrastructure;
using Fulfillment.Testing;

namespace Fulfillment.SchemaRegistry.Tests;

/// <summary>Avro records through the development broker, with schemas registered in our registry by Confluent's serdes.</summary>
public sealed class KafkaRoundTripTests : IClassFixture<InProcessRegistry>, IClassFixture<DevBrokerFixture>
{
    private readonly InProcessRegistry _registry;
    private readonly DevBrokerFixture _broker;

    public KafkaRoundTripTests(InProcessRegistry registry, DevBrokerFixture broker)
    {
        _registry = registry;
        _broker = broker;
    }

    private static readonly RecordSchema Schema = (RecordSchema)Avro.Schema.Parse("""
        {"type":"record","name":"StockMoved","namespace":"fulfillment.registry.test","fields":[
          {"name":"sku","type":"string"},{"name":"location","type":"string"},{"name":"delta","type":"int"},
          {"name":"reason","type":["null","string"],"default":null}]}
        """);

    [Fact]
    public async Task ProduceConsume_GenericRecordsWithAutoRegisteredSchema_RoundTripThroughBroker()
    {
        var topic = _broker.CreateTopic("stock-moved", 3);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        using (var producer = new ProducerBuilder<string, GenericRecord>(_broker.ProducerConfig())
                   .SetValueSerializer(new AvroSerializer<GenericRecord>(registry, new AvroSerializerConfig { AutoRegisterSchemas = true }))
                   .Build())
        {
            for (var i = 0; i < 20; i++)
            {
                var record = new GenericRecord(Schema);
                record.Add("sku", $"SKU-{i}");
                record.Add("location", "WH1");
                record.Add("delta", i);
                record.Add("reason", i % 2 == 0 ? null : "count");
                await producer.ProduceAsync(topic, new Message<string, GenericRecord> { Key = $"SKU-{i}", Value = record });
            }

            producer.Flush(TimeSpan.FromSeconds(10));
        }

        // Separate registry client: the consumer resolves ids over HTTP, not from the producer's cache.
        using var consumerRegistry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        using var consumer = new ConsumerBuilder<string, GenericRecord>(_broker.ConsumerConfig("registry-roundtrip"))
            .SetValueDeserializer(new AvroDeserializer<GenericRecord>(consumerRegistry).AsSyncOverAsync())
            .Build();
        consumer.Subscribe(topic);
        var received = new Dictionary<string, GenericRecord>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (received.Count < 20 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result?.Message is { } message)
            {
                received[message.Key] = message.Value;
            }
        }

        consumer.Close();
        received.Count.ShouldBe(20);
        received["SKU-7"]["delta"].ShouldBe(7);
        received["SKU-7"]["reason"].ShouldBe("count");
        received["SKU-4"]["reason"].ShouldBeNull();
        (await consumerRegistry.GetLatestSchemaAsync(topic + "-value")).Version.ShouldBe(1);
    }
}
