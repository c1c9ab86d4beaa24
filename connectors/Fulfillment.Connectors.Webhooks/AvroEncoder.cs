using System.Buffers.Binary;
using Avro.IO;
using Avro.Specific;
using Confluent.SchemaRegistry;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// Confluent wire format (magic 0, big-endian schema id, Avro binary) for one record type on one topic. The schema is
/// registered once under <c>{topic}-value</c> (TopicNameStrategy, as Confluent's serializer would); after that encoding
/// is synchronous and allocates only the result. Confluent's <c>AvroSerializer</c> takes an async path, a cache lookup
/// and a fresh stream per record, a noticeable part of the per-delivery CPU at thousands of deliveries a second.
/// Not thread-safe: one instance per writing thread (the publisher has one).
/// </summary>
public sealed class AvroEncoder<T>(ISchemaRegistryClient registry, string topic)
    where T : ISpecificRecord, new()
{
    private readonly SpecificDefaultWriter _writer = new(new T().Schema);
    private readonly MemoryStream _buffer = new(4096);
    private int _schemaId = -1;

    /// <summary>Registers the schema if not yet done (idempotent in the registry: the same schema keeps its id).</summary>
    public async ValueTask EnsureRegisteredAsync(CancellationToken cancellationToken)
    {
        if (_schemaId < 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _schemaId = await registry.RegisterSchemaAsync($"{topic}-value", new Schema(new T().Schema.ToString(), SchemaType.Avro), normalize: false);
        }
    }

    /// <summary>The record in the Confluent wire format. <see cref="EnsureRegisteredAsync"/> must have completed.</summary>
    public byte[] Encode(T record)
    {
        if (_schemaId < 0)
        {
            throw new InvalidOperationException($"The {typeof(T).Name} schema is not registered for {topic} yet.");
        }

        _buffer.SetLength(0);
        Span<byte> header = stackalloc byte[5];
        header[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(header[1..], _schemaId);
        _buffer.Write(header);
        _writer.Write(record, new BinaryEncoder(_buffer));
        return _buffer.ToArray();
    }
}
