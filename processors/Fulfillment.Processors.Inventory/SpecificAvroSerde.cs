using System.Buffers.Binary;
using Avro.IO;
using Avro.Specific;
using Fulfillment.Processors.Runtime;

namespace Fulfillment.Processors.Inventory;

/// <summary>
/// Avro in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary), so any
/// registry-aware Kafka client reads our outputs. The schema id comes from the caller (registered at startup).
/// Reading assumes the writer used this build's schema; it does not fetch writer schemas from the registry yet.
/// </summary>
public sealed class SpecificAvroSerde<T> : ISerde<T>
    where T : ISpecificRecord, new()
{
    private readonly int _schemaId;
    private readonly Avro.Schema _schema;
    private readonly SpecificDatumWriter<T> _writer;
    private readonly SpecificDatumReader<T> _reader;

    public SpecificAvroSerde(int schemaId)
    {
        _schemaId = schemaId;
        _schema = new T().Schema;
        _writer = new SpecificDatumWriter<T>(_schema);
        _reader = new SpecificDatumReader<T>(_schema, _schema);
    }

    public byte[]? Serialize(T value)
    {
        using var stream = new MemoryStream(256);
        Span<byte> header = stackalloc byte[5];
        header[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(header[1..], _schemaId);
        stream.Write(header);
        _writer.Write(value, new BinaryEncoder(stream));
        return stream.ToArray();
    }

    public T Deserialize(byte[]? data)
    {
        if (data is null || data.Length < 5 || data[0] != 0)
        {
            throw new FormatException("Not a Confluent-framed Avro value (magic byte 0 + schema id + payload).");
        }

        using var stream = new MemoryStream(data, 5, data.Length - 5, writable: false);
        return _reader.Read(default!, new BinaryDecoder(stream));
    }
}
