using System.Buffers.Binary;
using System.Collections;
using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Text;
using Avro;
using Avro.IO;
using Avro.Specific;
using Fulfillment.Processors.Runtime;

namespace Fulfillment.Processors.Inventory;

/// <summary>
/// Avro in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary), so any
/// registry-aware Kafka client reads our outputs. The schema id comes from the caller (registered at startup).
/// Reading assumes the writer used this build's schema; it does not fetch writer schemas from the registry yet.
/// <para>
/// Encoding and decoding walk a plan built once from the schema (<see cref="AvroPlan"/>) over the generated classes'
/// <c>Get</c>/<c>Put</c>, writing into a reused per-thread buffer: the same bytes as Apache.Avro's
/// <c>SpecificDatumWriter</c> (a test compares them), without its per-field closures, per-string byte arrays and
/// growing streams, which were a third of the inventory processor's allocations. A schema the plan does not cover
/// (fixed) falls back to Apache.Avro's reader and writer.
/// </para>
/// </summary>
public sealed class SpecificAvroSerde<T> : ISerde<T>
    where T : ISpecificRecord, new()
{
    private readonly int _schemaId;
    private readonly AvroPlan.Node? _plan;
    private readonly SpecificDatumWriter<T>? _writer;
    private readonly SpecificDatumReader<T>? _reader;

    public SpecificAvroSerde(int schemaId)
    {
        _schemaId = schemaId;
        var schema = new T().Schema;
        _plan = AvroPlan.TryBuild(schema, typeof(T));
        if (_plan is null)
        {
            _writer = new SpecificDatumWriter<T>(schema);
            _reader = new SpecificDatumReader<T>(schema, schema);
        }
    }

    /// <summary>The registry id written into every value's header.</summary>
    internal int SchemaId => _schemaId;

    public byte[]? Serialize(T value)
    {
        var buffer = AvroBuffer.Rent();
        buffer.WriteHeader(_schemaId);
        if (_plan is not null)
        {
            _plan.Write(value, buffer);
        }
        else
        {
            using var stream = new MemoryStream(256);
            _writer!.Write(value, new BinaryEncoder(stream));
            buffer.WriteRaw(stream.GetBuffer().AsSpan(0, (int)stream.Length));
        }

        return buffer.ToArray();
    }

    public T Deserialize(byte[]? data)
    {
        if (data is null || data.Length < 5 || data[0] != 0)
        {
            throw new FormatException("Not a Confluent-framed Avro value (magic byte 0 + schema id + payload).");
        }

        if (_plan is null)
        {
            using var stream = new MemoryStream(data, 5, data.Length - 5, writable: false);
            return _reader!.Read(default!, new BinaryDecoder(stream));
        }

        var reader = new AvroReader(data, 5);
        return (T)_plan.Read(ref reader)!;
    }
}

/// <summary>A growable output buffer, one per thread, reused across values (never handed out).</summary>
internal sealed class AvroBuffer
{
    [ThreadStatic]
    private static AvroBuffer? _current;

    private byte[] _bytes = new byte[1024];
    private int _length;

    public static AvroBuffer Rent()
    {
        var buffer = _current ??= new AvroBuffer();
        buffer._length = 0;
        return buffer;
    }

    public byte[] ToArray() => _bytes.AsSpan(0, _length).ToArray();

    public void WriteHeader(int schemaId)
    {
        var span = Reserve(5);
        span[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], schemaId);
        _length += 5;
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        _length += bytes.Length;
    }

    public void WriteBoolean(bool value)
    {
        Reserve(1)[0] = value ? (byte)1 : (byte)0;
        _length++;
    }

    /// <summary>Avro int and long: zig-zag, then 7 bits per byte, low group first.</summary>
    public void WriteLong(long value)
    {
        var span = Reserve(10);
        var n = (ulong)((value << 1) ^ (value >> 63));
        var i = 0;
        while (n >= 0x80)
        {
            span[i++] = (byte)(n | 0x80);
            n >>= 7;
        }

        span[i++] = (byte)n;
        _length += i;
    }

    public void WriteFloat(float value)
    {
        BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), value);
        _length += 4;
    }

    public void WriteDouble(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), value);
        _length += 8;
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteLong(value.Length);
        WriteRaw(value);
    }

    public void WriteString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteLong(count);
        _length += Encoding.UTF8.GetBytes(value, Reserve(count));
    }

    /// <summary>The same bytes as <see cref="WriteString(string)"/> of the string these characters make.</summary>
    public void WriteString(ReadOnlySpan<char> value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteLong(count);
        _length += Encoding.UTF8.GetBytes(value, Reserve(count));
    }

    private Span<byte> Reserve(int count)
    {
        if (_bytes.Length - _length < count)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + count));
        }

        return _bytes.AsSpan(_length);
    }
}

/// <summary>Reads Avro binary from a byte array; every length and count is checked against what is left.</summary>
internal ref struct AvroReader(byte[] data, int position)
{
    private readonly byte[] _data = data;
    private int _position = position;

    public readonly int Remaining => _data.Length - _position;

    public bool ReadBoolean() => Take(1)[0] switch
    {
        0 => false,
        1 => true,
        var b => throw new FormatException($"Invalid Avro boolean byte {b}."),
    };

    public long ReadLong()
    {
        ulong n = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = Take(1)[0];
            n |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return (long)(n >> 1) ^ -(long)(n & 1);
            }
        }

        throw new FormatException("Invalid Avro varint (more than 10 bytes).");
    }

    public int ReadInt()
    {
        var value = ReadLong();
        return value is < int.MinValue or > int.MaxValue ? throw new FormatException($"Avro int out of range: {value}.") : (int)value;
    }

    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public byte[] ReadBytes() => Take(ReadLength()).ToArray();

    public string ReadString() => Encoding.UTF8.GetString(Take(ReadLength()));

    /// <summary>A block count of an array or map: negative counts are followed by the block's byte size.</summary>
    public long ReadBlockCount()
    {
        var count = ReadLong();
        if (count < 0)
        {
            ReadLong();
            count = -count;
        }

        return count;
    }

    private int ReadLength()
    {
        var length = ReadLong();
        return length < 0 || length > Remaining ? throw new FormatException($"Avro length {length} outside the {Remaining} bytes left.") : (int)length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > Remaining)
        {
            throw new FormatException("Avro value ends early.");
        }

        var span = _data.AsSpan(_position, count);
        _position += count;
        return span;
    }
}

/// <summary>Encoding/decoding plans per schema, built once and shared (they are immutable).</summary>
internal static class AvroPlan
{
    private static readonly ConcurrentDictionary<(string Schema, Type Type), Node?> Plans = new();

    /// <summary>A plan for <paramref name="schema"/> read into <paramref name="type"/>, or null when a construct is not
    /// covered (the caller then uses Apache.Avro).</summary>
    public static Node? TryBuild(Schema schema, Type type) =>
        Plans.GetOrAdd((schema.ToString(), type), _ =>
        {
            try
            {
                return new Builder(type.Assembly).Build(schema);
            }
            catch (NotSupportedException)
            {
                return null;
            }
        });

    internal abstract class Node
    {
        /// <summary>.NET type a value of this schema has in the generated classes (for typed lists and dictionaries).</summary>
        public abstract Type ClrType { get; }

        public abstract void Write(object? value, AvroBuffer buffer);

        public abstract object? Read(ref AvroReader reader);

        /// <summary>Whether <paramref name="value"/> belongs to this branch of a union (Apache.Avro's rules).</summary>
        public abstract bool Matches(object? value);
    }

    private sealed class Builder(System.Reflection.Assembly home)
    {
        private readonly Dictionary<string, RecordNode> _records = new(StringComparer.Ordinal);

        public Node Build(Schema schema) => schema switch
        {
            LogicalSchema logical => new LogicalNode(logical, Build(logical.BaseSchema)),
            RecordSchema record => BuildRecord(record),
            EnumSchema e => new EnumNode(e, ResolveType(e.Fullname)),
            ArraySchema array => new ArrayNode(Build(array.ItemSchema)),
            MapSchema map => new MapNode(Build(map.ValueSchema)),
            UnionSchema union => new UnionNode([.. union.Schemas.Select(Build)]),
            PrimitiveSchema primitive => new PrimitiveNode(primitive.Tag),
            _ => throw new NotSupportedException($"Avro schema type {schema.Tag} is not covered by the plan."),
        };

        private RecordNode BuildRecord(RecordSchema schema)
        {
            if (_records.TryGetValue(schema.Fullname, out var existing))
            {
                return existing;
            }

            var node = new RecordNode(schema.Fullname, ResolveType(schema.Fullname));
            _records[schema.Fullname] = node;
            node.Fields = [.. schema.Fields.OrderBy(f => f.Pos).Select(f => Build(f.Schema))];
            return node;
        }

        /// <summary>Generated classes carry the Avro full name as their .NET name (the schema's namespace is the
        /// .NET namespace).</summary>
        private Type ResolveType(string fullname) =>
            home.GetType(fullname)
            ?? AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(fullname)).FirstOrDefault(t => t is not null)
            ?? throw new NotSupportedException($"No generated class named {fullname}.");
    }

    private sealed class RecordNode(string fullname, Type type) : Node
    {
        private readonly Func<object> _create = Expression.Lambda<Func<object>>(Expression.Convert(Expression.New(type), typeof(object))).Compile();

        public Node[] Fields { get; set; } = [];

        public override Type ClrType => type;

        public override void Write(object? value, AvroBuffer buffer)
        {
            var record = value as ISpecificRecord ?? throw new AvroException($"Record {fullname} expected, got {value?.GetType().Name ?? "null"}.");
            for (var i = 0; i < Fields.Length; i++)
            {
                Fields[i].Write(record.Get(i), buffer);
            }
        }

        public override object? Read(ref AvroReader reader)
        {
            var record = (ISpecificRecord)_create();
            for (var i = 0; i < Fields.Length; i++)
            {
                record.Put(i, Fields[i].Read(ref reader));
            }

            return record;
        }

        public override bool Matches(object? value) =>
            value is ISpecificRecord record && record.Schema is RecordSchema schema && schema.Fullname == fullname;
    }

    private sealed class PrimitiveNode(Schema.Type tag) : Node
    {
        public Schema.Type Tag => tag;

        public override Type ClrType => tag switch
        {
            Schema.Type.Null => typeof(object),
            Schema.Type.Boolean => typeof(bool),
            Schema.Type.Int => typeof(int),
            Schema.Type.Long => typeof(long),
            Schema.Type.Float => typeof(float),
            Schema.Type.Double => typeof(double),
            Schema.Type.Bytes => typeof(byte[]),
            Schema.Type.String => typeof(string),
            _ => throw new NotSupportedException($"Avro primitive {tag} is not covered by the plan."),
        };

        public override void Write(object? value, AvroBuffer buffer)
        {
            switch (tag)
            {
                case Schema.Type.Null:
                    if (value is not null)
                    {
                        throw new AvroException("Null expected.");
                    }

                    break;
                case Schema.Type.Boolean:
                    buffer.WriteBoolean(value is bool b ? b : throw Mismatch(value));
                    break;
                case Schema.Type.Int:
                    buffer.WriteLong(value is int i ? i : throw Mismatch(value));
                    break;
                case Schema.Type.Long:
                    buffer.WriteLong(value is long l ? l : throw Mismatch(value));
                    break;
                case Schema.Type.Float:
                    buffer.WriteFloat(value is float f ? f : throw Mismatch(value));
                    break;
                case Schema.Type.Double:
                    buffer.WriteDouble(value is double d ? d : throw Mismatch(value));
                    break;
                case Schema.Type.Bytes:
                    buffer.WriteBytes(value is byte[] bytes ? bytes : throw Mismatch(value));
                    break;
                case Schema.Type.String:
                    buffer.WriteString(value is string s ? s : throw Mismatch(value));
                    break;
                default:
                    throw new NotSupportedException($"Avro primitive {tag} is not covered by the plan.");
            }
        }

        public override object? Read(ref AvroReader reader) => tag switch
        {
            Schema.Type.Null => null,
            Schema.Type.Boolean => reader.ReadBoolean(),
            Schema.Type.Int => reader.ReadInt(),
            Schema.Type.Long => reader.ReadLong(),
            Schema.Type.Float => reader.ReadFloat(),
            Schema.Type.Double => reader.ReadDouble(),
            Schema.Type.Bytes => reader.ReadBytes(),
            Schema.Type.String => reader.ReadString(),
            _ => throw new NotSupportedException($"Avro primitive {tag} is not covered by the plan."),
        };

        public override bool Matches(object? value) => tag switch
        {
            Schema.Type.Null => value is null,
            Schema.Type.Boolean => value is bool,
            Schema.Type.Int => value is int,
            Schema.Type.Long => value is long,
            Schema.Type.Float => value is float,
            Schema.Type.Double => value is double,
            Schema.Type.Bytes => value is byte[],
            Schema.Type.String => value is string,
            _ => false,
        };

        private AvroException Mismatch(object? value) => new($"Avro {tag} expected, got {value?.GetType().Name ?? "null"}.");
    }

    /// <summary>Logical types convert through Apache.Avro's own conversions, so values match its writer exactly.</summary>
    private sealed class LogicalNode(LogicalSchema schema, Node baseNode) : Node
    {
        public override Type ClrType => schema.LogicalType.GetCSharpType(false);

        public override void Write(object? value, AvroBuffer buffer) =>
            baseNode.Write(schema.LogicalType.ConvertToBaseValue(value, schema), buffer);

        public override object? Read(ref AvroReader reader) =>
            schema.LogicalType.ConvertToLogicalValue(baseNode.Read(ref reader), schema);

        public override bool Matches(object? value) => value is not null && schema.LogicalType.IsInstanceOfLogicalType(value);
    }

    private sealed class EnumNode : Node
    {
        private readonly EnumSchema _schema;
        private readonly Type _type;
        private readonly object[] _values;
        private readonly Dictionary<long, int> _ordinals = [];

        public EnumNode(EnumSchema schema, Type type)
        {
            if (!type.IsEnum)
            {
                throw new NotSupportedException($"{type} is not an enum.");
            }

            _schema = schema;
            _type = type;
            _values = new object[schema.Symbols.Count];
            for (var i = 0; i < _values.Length; i++)
            {
                if (!Enum.TryParse(type, schema.Symbols[i], ignoreCase: false, out var value))
                {
                    throw new NotSupportedException($"{type} has no member {schema.Symbols[i]}.");
                }

                _values[i] = value!;
                _ordinals[Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)] = i;
            }
        }

        public override Type ClrType => _type;

        public override void Write(object? value, AvroBuffer buffer)
        {
            if (value is null || value.GetType() != _type
                || !_ordinals.TryGetValue(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture), out var ordinal))
            {
                throw new AvroException($"Enum {_schema.Fullname} expected, got {value ?? "null"}.");
            }

            buffer.WriteLong(ordinal);
        }

        public override object? Read(ref AvroReader reader)
        {
            var ordinal = reader.ReadInt();
            return ordinal >= 0 && ordinal < _values.Length ? _values[ordinal] : throw new FormatException($"Enum {_schema.Fullname} has no symbol {ordinal}.");
        }

        public override bool Matches(object? value) => value is Enum && _schema.Symbols.Contains(value.ToString()!);
    }

    private sealed class ArrayNode(Node items) : Node
    {
        private readonly Type _listType = typeof(List<>).MakeGenericType(items.ClrType);
        private Func<IList>? _create;

        public override Type ClrType => typeof(IList<>).MakeGenericType(items.ClrType);

        public override void Write(object? value, AvroBuffer buffer)
        {
            var list = value as IList ?? throw new AvroException($"Array expected, got {value?.GetType().Name ?? "null"}.");
            if (list.Count > 0)
            {
                buffer.WriteLong(list.Count);
                for (var i = 0; i < list.Count; i++)
                {
                    items.Write(list[i], buffer);
                }
            }

            buffer.WriteLong(0);
        }

        public override object? Read(ref AvroReader reader)
        {
            _create ??= Expression.Lambda<Func<IList>>(Expression.Convert(Expression.New(_listType), typeof(IList))).Compile();
            var list = _create();
            for (var count = reader.ReadBlockCount(); count != 0; count = reader.ReadBlockCount())
            {
                // Every item takes at least one byte except a null: a count beyond the bytes left is corrupt.
                if ((count > reader.Remaining && items is not PrimitiveNode { Tag: Schema.Type.Null }) || count > int.MaxValue)
                {
                    throw new FormatException($"Avro array block of {count} items in {reader.Remaining} bytes.");
                }

                for (var i = 0; i < count; i++)
                {
                    list.Add(items.Read(ref reader));
                }
            }

            return list;
        }

        public override bool Matches(object? value) => value is IList;
    }

    private sealed class MapNode(Node values) : Node
    {
        private readonly Type _dictionaryType = typeof(Dictionary<,>).MakeGenericType(typeof(string), values.ClrType);
        private Func<IDictionary>? _create;

        public override Type ClrType => typeof(IDictionary<,>).MakeGenericType(typeof(string), values.ClrType);

        public override void Write(object? value, AvroBuffer buffer)
        {
            var map = value as IDictionary ?? throw new AvroException($"Map expected, got {value?.GetType().Name ?? "null"}.");
            if (map.Count > 0)
            {
                buffer.WriteLong(map.Count);
                foreach (DictionaryEntry entry in map)
                {
                    buffer.WriteString((string)entry.Key);
                    values.Write(entry.Value, buffer);
                }
            }

            buffer.WriteLong(0);
        }

        public override object? Read(ref AvroReader reader)
        {
            _create ??= Expression.Lambda<Func<IDictionary>>(Expression.Convert(Expression.New(_dictionaryType), typeof(IDictionary))).Compile();
            var map = _create();
            for (var count = reader.ReadBlockCount(); count != 0; count = reader.ReadBlockCount())
            {
                // Every entry has a key of at least one byte.
                if (count > reader.Remaining)
                {
                    throw new FormatException($"Avro map block of {count} entries in {reader.Remaining} bytes.");
                }

                for (var i = 0; i < count; i++)
                {
                    var key = reader.ReadString();
                    map[key] = values.Read(ref reader);
                }
            }

            return map;
        }

        public override bool Matches(object? value) => value is IDictionary;
    }

    private sealed class UnionNode(Node[] branches) : Node
    {
        public override Type ClrType
        {
            get
            {
                // ["null", X] is X (nullable when X is a value type), as the code generator types it; anything else is object.
                var others = branches.Where(b => b is not PrimitiveNode { Tag: Schema.Type.Null }).ToList();
                if (others.Count == 1 && others.Count < branches.Length)
                {
                    var type = others[0].ClrType;
                    return type.IsValueType ? typeof(Nullable<>).MakeGenericType(type) : type;
                }

                return others.Count == 1 ? others[0].ClrType : typeof(object);
            }
        }

        public override void Write(object? value, AvroBuffer buffer)
        {
            for (var i = 0; i < branches.Length; i++)
            {
                if (branches[i].Matches(value))
                {
                    buffer.WriteLong(i);
                    branches[i].Write(value, buffer);
                    return;
                }
            }

            throw new AvroException($"No branch of the union matches {value?.GetType().Name ?? "null"}.");
        }

        public override object? Read(ref AvroReader reader)
        {
            var index = reader.ReadLong();
            return index >= 0 && index < branches.Length ? branches[index].Read(ref reader) : throw new FormatException($"Union branch {index} does not exist.");
        }

        public override bool Matches(object? value) => branches.Any(b => b.Matches(value));
    }
}
