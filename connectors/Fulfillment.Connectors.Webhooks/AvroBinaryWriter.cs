using System.Buffers.Binary;
using System.Text;
using Avro;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// Avro binary encoding written straight into one reusable buffer, byte for byte what Apache.Avro's
/// <c>BinaryEncoder</c> and its logical types produce (zig-zag varints, length-prefixed UTF-8 and bytes, little-endian
/// doubles, arrays as one block then 0, union branch index first). Not thread-safe.
/// </summary>
public sealed class AvroBinaryWriter(int capacity = 4096)
{
    private byte[] _buffer = new byte[capacity];
    private int _length;

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public void Reset() => _length = 0;

    /// <summary>A copy of what was written, exactly sized (the producer takes arrays).</summary>
    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    public void WriteFixed(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        _length += bytes.Length;
    }

    public void WriteLong(long value)
    {
        var span = Reserve(10);
        var n = (ulong)((value << 1) ^ (value >> 63));
        var i = 0;
        while (n > 0x7F)
        {
            span[i++] = (byte)((n & 0x7F) | 0x80);
            n >>= 7;
        }

        span[i++] = (byte)n;
        _length += i;
    }

    public void WriteInt(int value) => WriteLong(value);

    /// <summary>An enum symbol's position, or a union branch's index.</summary>
    public void WriteIndex(int index) => WriteLong(index);

    public void WriteBoolean(bool value)
    {
        Reserve(1)[0] = value ? (byte)1 : (byte)0;
        _length++;
    }

    public void WriteDouble(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), value);
        _length += 8;
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteLong(value.Length);
        WriteFixed(value);
    }

    /// <exception cref="AvroException">The value is null (the field is not nullable).</exception>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            throw new AvroException("A non-nullable Avro string field is null.");
        }

        var count = Encoding.UTF8.GetByteCount(value);
        WriteLong(count);
        _length += Encoding.UTF8.GetBytes(value, Reserve(count));
    }

    /// <summary>A <c>["null", "string"]</c> union.</summary>
    public void WriteNullableString(string? value)
    {
        if (value is null)
        {
            WriteLong(0);
        }
        else
        {
            WriteLong(1);
            WriteString(value);
        }
    }

    /// <summary>The string's Latin-1 bytes as an Avro <c>bytes</c> value (one byte per char; others become '?', as
    /// <see cref="Encoding.Latin1"/> does).</summary>
    public void WriteLatin1Bytes(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        WriteLong(value.Length);
        _length += Encoding.Latin1.GetBytes(value, Reserve(value.Length));
    }

    /// <summary><c>timestamp-millis</c>, converted as Apache.Avro does (to UTC, whole milliseconds towards zero).</summary>
    public void WriteTimestampMillis(DateTime value) =>
        WriteLong((long)(value.ToUniversalTime() - DateTime.UnixEpoch).TotalMilliseconds);

    /// <summary>Logical <c>decimal</c> on <c>bytes</c>: the unscaled value big-endian in two's complement, fewest bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value's scale is not the schema's (Apache.Avro refuses it too).</exception>
    public void WriteDecimal(AvroDecimal value, int scale)
    {
        if (value.Scale != scale)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"Decimal scale {value.Scale} is not the schema's {scale}.");
        }

        var unscaled = value.UnscaledValue;
        var count = unscaled.GetByteCount();
        WriteLong(count);
        unscaled.TryWriteBytes(Reserve(count), out var written, isUnsigned: false, isBigEndian: true);
        _length += written;
    }

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _length < count)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        return _buffer.AsSpan(_length);
    }
}
