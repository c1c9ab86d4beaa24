using Avro;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.SchemaRegistry.Tests.Infrastructure;
using Fulfillment.Testing;

namespace Fulfillment.SchemaRegistry.Tests;

/// <summary>The real Confluent 2.14 .NET client and Avro serdes against our registry.</summary>
public class ConfluentClientTests(InProcessRegistry fixture) : IClassFixture<InProcessRegistry>
{
    private static RecordSchema OrderSchema(string name, bool withQty = false)
    {
        var extra = withQty ? ",{\"name\":\"totalQty\",\"type\":\"int\",\"default\":0}" : "";
        return (RecordSchema)Avro.Schema.Parse(
            $$"""
            {"type":"record","name":"{{name}}","namespace":"fulfillment.registry.test","fields":[
              {"name":"orderId","type":"string"},
              {"name":"lines","type":{"type":"array","items":{"type":"record","name":"{{name}}Line","fields":[
                {"name":"sku","type":"string"},{"name":"quantity","type":"int"}]} } },
              {"name":"placedAt","type":{"type":"long","logicalType":"timestamp-millis"} }{{extra}}
            ]}
            """);
    }

    private static GenericRecord Order(RecordSchema schema, string id)
    {
        var lineSchema = (RecordSchema)((ArraySchema)schema["lines"].Schema).ItemSchema;
        var line = new GenericRecord(lineSchema);
        line.Add("sku", "SKU-1");
        line.Add("quantity", 3);
        var order = new GenericRecord(schema);
        order.Add("orderId", id);
        order.Add("lines", new object[] { line });
        order.Add("placedAt", new DateTime(2026, 11, 23, 12, 0, 0, DateTimeKind.Utc));
        if (schema.Contains("totalQty"))
        {
            order.Add("totalQty", 3);
        }

        return order;
    }

    private CachedSchemaRegistryClient NewClient() => new(new SchemaRegistryConfig { Url = fixture.Url });

    [Fact]
    public async Task AvroSerializer_AutoRegister_WritesIdThatDeserializerResolves()
    {
        var topic = Api.Unique("orders");
        var schema = OrderSchema("AutoOrder");
        using var producerClient = NewClient();
        var serializer = new AvroSerializer<GenericRecord>(producerClient, new AvroSerializerConfig { AutoRegisterSchemas = true });

        var bytes = await serializer.SerializeAsync(Order(schema, "o-1"), new SerializationContext(MessageComponentType.Value, topic));

        bytes[0].ShouldBe((byte)0);
        var id = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4));
        var registered = await producerClient.GetLatestSchemaAsync(topic + "-value");
        registered.Id.ShouldBe(id);

        // A fresh client has no cache, so this goes to GET /schemas/ids/{id}.
        using var consumerClient = NewClient();
        var deserializer = new AvroDeserializer<GenericRecord>(consumerClient);
        var back = await deserializer.DeserializeAsync(bytes, false, new SerializationContext(MessageComponentType.Value, topic));
        back["orderId"].ShouldBe("o-1");
        ((GenericRecord)((object[])back["lines"])[0])["sku"].ShouldBe("SKU-1");
    }

    [Fact]
    public async Task AvroSerializer_UseLatestVersion_SerializesWithLatestRegisteredId()
    {
        var topic = Api.Unique("latest");
        var subject = topic + "-value";
        using var client = NewClient();
        var v1 = await client.RegisterSchemaAsync(subject, new Confluent.SchemaRegistry.Schema(OrderSchema("LatestOrder").ToString(), SchemaType.Avro));
        var v2 = await client.RegisterSchemaAsync(subject, new Confluent.SchemaRegistry.Schema(OrderSchema("LatestOrder", withQty: true).ToString(), SchemaType.Avro));
        v2.ShouldNotBe(v1);
        var serializer = new AvroSerializer<GenericRecord>(client, new AvroSerializerConfig { AutoRegisterSchemas = false, UseLatestVersion = true });

        var bytes = await serializer.SerializeAsync(Order(OrderSchema("LatestOrder", withQty: true), "o-2"), new SerializationContext(MessageComponentType.Value, topic));

        System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)).ShouldBe(v2);
    }

    [Fact]
    public async Task AvroSerializer_NoAutoRegisterAndUnknownSubject_FailsWithSubjectNotFound()
    {
        using var client = NewClient();
        var serializer = new AvroSerializer<GenericRecord>(client, new AvroSerializerConfig { AutoRegisterSchemas = false });

        var error = await Should.ThrowAsync<SchemaRegistryException>(() =>
            serializer.SerializeAsync(Order(OrderSchema("Unregistered"), "o-3"), new SerializationContext(MessageComponentType.Value, Api.Unique("unregistered"))));

        error.ErrorCode.ShouldBe(40401);
    }

    [Fact]
    public async Task AvroSerializer_NoAutoRegisterAndRegisteredSchema_LooksUpItsId()
    {
        var topic = Api.Unique("lookup");
        using var admin = NewClient();
        var id = await admin.RegisterSchemaAsync(topic + "-value", new Confluent.SchemaRegistry.Schema(OrderSchema("LookedUp").ToString(), SchemaType.Avro));
        using var client = NewClient();
        var serializer = new AvroSerializer<GenericRecord>(client, new AvroSerializerConfig { AutoRegisterSchemas = false });

        var bytes = await serializer.SerializeAsync(Order(OrderSchema("LookedUp"), "o-4"), new SerializationContext(MessageComponentType.Value, topic));

        System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)).ShouldBe(id);
    }

    [Fact]
    public async Task CachedClient_IncompatibleRegistration_ThrowsConflict_AndCompatibilityApisAnswer()
    {
        var subject = Api.Unique("client-compat") + "-value";
        using var client = NewClient();
        await client.RegisterSchemaAsync(subject, new Confluent.SchemaRegistry.Schema(OrderSchema("CompatOrder").ToString(), SchemaType.Avro));
        var breaking = new Confluent.SchemaRegistry.Schema(
            OrderSchema("CompatOrder").ToString().Replace("\"fields\":[", "\"fields\":[{\"name\":\"required\",\"type\":\"string\"},", StringComparison.Ordinal), SchemaType.Avro);

        (await client.IsCompatibleAsync(subject, breaking)).ShouldBeFalse();
        (await client.IsCompatibleAsync(subject, new Confluent.SchemaRegistry.Schema(OrderSchema("CompatOrder", withQty: true).ToString(), SchemaType.Avro))).ShouldBeTrue();
        var error = await Should.ThrowAsync<SchemaRegistryException>(() => client.RegisterSchemaAsync(subject, breaking));
        error.ErrorCode.ShouldBe(409);

        (await client.UpdateCompatibilityAsync(Confluent.SchemaRegistry.Compatibility.None, subject)).ShouldBe(Confluent.SchemaRegistry.Compatibility.None);
        (await client.GetCompatibilityAsync(subject)).ShouldBe(Confluent.SchemaRegistry.Compatibility.None);
        (await client.RegisterSchemaAsync(subject, breaking)).ShouldBeGreaterThan(0);
        (await client.GetAllSubjectsAsync()).ShouldContain(subject);
        (await client.GetSubjectVersionsAsync(subject)).ShouldBe([1, 2]);
        (await client.GetRegisteredSchemaAsync(subject, 1)).Version.ShouldBe(1);
    }
}
