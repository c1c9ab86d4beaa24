using System.Buffers.Binary;
using System.Text;

namespace Fulfillment.Processors.Runtime;

/// <summary>
/// Turns a value into bytes and back. The runtime itself only moves bytes; serdes are where typed topologies
/// (and Avro, wired elsewhere) plug in. A deserializer that throws sends the record to the dead-letter topic.
/// </summary>
public interface ISerde<T>
{
    /// <summary>Bytes for <paramref name="value"/>; null only for a null key/tombstone where the serde allows it.</summary>
    byte[]? Serialize(T value);

    /// <summary>The value for <paramref name="data"/> (null when the record's key/value is null).</summary>
    T Deserialize(byte[]? data);
}

/// <summary>Built-in serdes for the primitive types the runtime and its tests need.</summary>
public static class Serdes
{
    /// <summary>Raw bytes, passed through; null stays null.</summary>
    public static ISerde<byte[]?> Bytes { get; } = new BytesSerde();

    /// <summary>UTF-8 text; a null record key/value is a deserialization error.</summary>
    public static ISerde<string> Utf8 { get; } = new Utf8Serde();

    /// <summary>Big-endian 64-bit integer (Kafka's LongSerializer layout, so Java consumers agree).</summary>
    public static ISerde<long> Int64 { get; } = new Int64Serde();

    /// <summary>Big-endian 32-bit integer (Kafka's IntegerSerializer layout).</summary>
    public static ISerde<int> Int32 { get; } = new Int32Serde();

    /// <summary>A serde from two functions, for small custom encodings in processors and tests.</summary>
    public static ISerde<T> Create<T>(Func<T, byte[]?> serialize, Func<byte[]?, T> deserialize) =>
        new DelegateSerde<T>(serialize, deserialize);

    private sealed class BytesSerde : ISerde<byte[]?>
    {
        public byte[]? Serialize(byte[]? value) => value;

        public byte[]? Deserialize(byte[]? data) => data;
    }

    private sealed class Utf8Serde : ISerde<string>
    {
        public byte[] Serialize(string value) => Encoding.UTF8.GetBytes(value);

        public string Deserialize(byte[]? data) =>
            data is null ? throw new FormatException("Expected UTF-8 text, got null.") : Encoding.UTF8.GetString(data);
    }

    private sealed class Int64Serde : ISerde<long>
    {
        public byte[] Serialize(long value)
        {
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(bytes, value);
            return bytes;
        }

        public long Deserialize(byte[]? data) =>
            data is { Length: 8 } ? BinaryPrimitives.ReadInt64BigEndian(data)
                : throw new FormatException($"Expected 8 bytes for a 64-bit integer, got {data?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}.");
    }

    private sealed class Int32Serde : ISerde<int>
    {
        public byte[] Serialize(int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            return bytes;
        }

        public int Deserialize(byte[]? data) =>
            data is { Length: 4 } ? BinaryPrimitives.ReadInt32BigEndian(data)
                : throw new FormatException($"Expected 4 bytes for a 32-bit integer, got {data?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}.");
    }

    private sealed class DelegateSerde<T>(Func<T, byte[]?> serialize, Func<byte[]?, T> deserialize) : ISerde<T>
    {
        public byte[]? Serialize(T value) => serialize(value);

        public T Deserialize(byte[]? data) => deserialize(data);
    }
}
