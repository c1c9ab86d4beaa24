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
    private readonly AvroBinaryWriter _direct = new(4096);
    private int _schemaId = -1;
    private byte[] _header = [];

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
        _buffer.Write(Header());
        _writer.Write(record, new BinaryEncoder(_buffer));
        return _buffer.ToArray();
    }

    /// <summary>The Confluent wire format around what <paramref name="write"/> writes: the caller writes the record's
    /// Avro binary itself (see <see cref="IngestAvro"/>). <see cref="EnsureRegisteredAsync"/> must have completed.</summary>
    public byte[] Encode<TState>(TState state, Action<AvroBinaryWriter, TState> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (_schemaId < 0)
        {
            throw new InvalidOperationException($"The {typeof(T).Name} schema is not registered for {topic} yet.");
        }

        _direct.Reset();
        _direct.WriteFixed(Header());
        write(_direct, state);
        return _direct.ToArray();
    }

    /// <summary>Magic byte 0 and the big-endian schema id.</summary>
    private ReadOnlySpan<byte> Header()
    {
        if (_header.Length == 0)
        {
            var header = new byte[5];
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), _schemaId);
            _header = header;
        }

        return _header;
    }
}
