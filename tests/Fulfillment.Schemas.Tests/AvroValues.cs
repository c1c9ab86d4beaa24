using System.Collections;
using System.Collections.Immutable;
using Avro;
using Avro.IO;
using Avro.Specific;
using CsCheck;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Schemas.Tests;

/// <summary>Random instances of the generated classes, driven by their Avro schemas, plus binary round-trip and deep equality.</summary>
internal static class AvroValues
{
    private static readonly System.Reflection.Assembly Generated = typeof(EventMetadata).Assembly;

    // Printable BMP characters without surrogates, so strings survive UTF-8; includes non-ASCII on purpose.
    private static readonly Gen<string> Text = Gen.Char['\u0020', '\uD7FF'].Array[0, 12].Select(chars => new string(chars));

    // Avro timestamp-millis holds any long; keep to years 1900-2200 so DateTime can represent them.
    private static readonly Gen<object?> Timestamp = Gen.Long[-2_208_988_800_000L, 7_258_118_400_000L]
        .Select(ms => (object?)DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime);

    private static readonly Gen<object?> MoneyValue = Gen.Long[-999_999_999_999_999_999L, 999_999_999_999_999_999L]
        .Select(units => (object?)Money.ToAvro(units / 10_000m));

    /// <summary>The generated CLR type of a named schema.</summary>
    public static Type ClrTypeOf(NamedSchema schema) =>
        Generated.GetType(schema.Fullname) ?? throw new InvalidOperationException($"No generated type for {schema.Fullname}.");

    public static Gen<ISpecificRecord> For(RecordSchema schema) => Record(schema).Select(r => (ISpecificRecord)r!);

    public static byte[] Write(ISpecificRecord record)
    {
        using var stream = new MemoryStream();
        new SpecificDatumWriter<ISpecificRecord>(record.Schema).Write(record, new BinaryEncoder(stream));
        return stream.ToArray();
    }

    public static ISpecificRecord Read(RecordSchema schema, byte[] bytes) => Read(schema, schema, bytes);

    public static ISpecificRecord Read(RecordSchema writer, Schema reader, byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        var datumReader = new SpecificDatumReader<ISpecificRecord>(writer, reader);
        var result = datumReader.Read(null!, new BinaryDecoder(stream));
        stream.Position.ShouldBe(bytes.Length, "the reader must consume exactly what the writer wrote");
        return result;
    }

    /// <summary>The path of the first difference between two values, or null when they are equal.</summary>
    public static string? FirstDifference(object? expected, object? actual, string path = "")
    {
        switch (expected, actual)
        {
            case (null, null):
                return null;
            case (null, _) or (_, null):
                return $"{path}: expected {expected ?? "null"}, got {actual ?? "null"}";
            case (ISpecificRecord e, ISpecificRecord a):
                if (e.GetType() != a.GetType())
                {
                    return $"{path}: expected {e.GetType().Name}, got {a.GetType().Name}";
                }

                foreach (var field in ((RecordSchema)e.Schema).Fields)
                {
                    var diff = FirstDifference(e.Get(field.Pos), a.Get(field.Pos), path + "/" + field.Name);
                    if (diff is not null)
                    {
                        return diff;
                    }
                }

                return null;
            case (byte[] e, byte[] a):
                return e.AsSpan().SequenceEqual(a) ? null : $"{path}: bytes differ";
            case (IDictionary e, IDictionary a):
                if (e.Count != a.Count)
                {
                    return $"{path}: expected {e.Count} entries, got {a.Count}";
                }

                foreach (DictionaryEntry entry in e)
                {
                    if (!a.Contains(entry.Key))
                    {
                        return $"{path}: key '{entry.Key}' missing";
                    }

                    var diff = FirstDifference(entry.Value, a[entry.Key], $"{path}[{entry.Key}]");
                    if (diff is not null)
                    {
                        return diff;
                    }
                }

                return null;
            case (IList e, IList a):
                if (e.Count != a.Count)
                {
                    return $"{path}: expected {e.Count} items, got {a.Count}";
                }

                for (var i = 0; i < e.Count; i++)
                {
                    var diff = FirstDifference(e[i], a[i], $"{path}[{i}]");
                    if (diff is not null)
                    {
                        return diff;
                    }
                }

                return null;
            case (DateTime e, DateTime a):
                return e.ToUniversalTime() == a.ToUniversalTime() ? null : $"{path}: expected {e:O}, got {a:O}";
            default:
                return expected.GetType() == actual.GetType() && expected.Equals(actual)
                    ? null
                    : $"{path}: expected {expected} ({expected.GetType().Name}), got {actual} ({actual.GetType().Name})";
        }
    }

    private static Gen<object?> Value(Schema schema) => schema switch
    {
        LogicalSchema { LogicalTypeName: "timestamp-millis" } => Timestamp,
        LogicalSchema { LogicalTypeName: "decimal" } logical when logical.GetProperty("scale") == Money.Scale.ToString(System.Globalization.CultureInfo.InvariantCulture) => MoneyValue,
        RecordSchema record => Record(record),
        EnumSchema e => Gen.Int[0, e.Symbols.Count - 1].Select(i => (object?)Enum.Parse(ClrTypeOf(e), e.Symbols[i])),
        ArraySchema array => Array(array),
        MapSchema map => Map(map),
        UnionSchema union => Gen.OneOf(union.Schemas.Select(Value).ToArray()),
        PrimitiveSchema { Tag: Schema.Type.Null } => Gen.Bool.Select(_ => (object?)null),
        PrimitiveSchema { Tag: Schema.Type.String } => Text.Select(s => (object?)s),
        PrimitiveSchema { Tag: Schema.Type.Int } => Gen.Int.Select(i => (object?)i),
        PrimitiveSchema { Tag: Schema.Type.Long } => Gen.Long.Select(l => (object?)l),
        PrimitiveSchema { Tag: Schema.Type.Boolean } => Gen.Bool.Select(b => (object?)b),
        PrimitiveSchema { Tag: Schema.Type.Double } => Gen.Double.Select(d => (object?)d),
        PrimitiveSchema { Tag: Schema.Type.Float } => Gen.Float.Select(f => (object?)f),
        PrimitiveSchema { Tag: Schema.Type.Bytes } => Gen.Byte.Array[0, 32].Select(b => (object?)b),
        _ => throw new NotSupportedException($"No generator for {schema}; extend AvroValues."),
    };

    private static Gen<object?> Record(RecordSchema schema)
    {
        var type = ClrTypeOf(schema);
        var fields = Gen.Const(ImmutableList<object?>.Empty);
        foreach (var field in schema.Fields)
        {
            fields = Gen.Select(fields, Value(field.Schema), (list, value) => list.Add(value));
        }

        return fields.Select(values =>
        {
            var record = (ISpecificRecord)Activator.CreateInstance(type)!;
            for (var i = 0; i < values.Count; i++)
            {
                record.Put(i, values[i]);
            }

            return (object?)record;
        });
    }

    private static Gen<object?> Array(ArraySchema schema)
    {
        var listType = typeof(List<>).MakeGenericType(ClrTypeOf(schema.ItemSchema));
        return Value(schema.ItemSchema).List[0, 3].Select(items =>
        {
            var list = (IList)Activator.CreateInstance(listType)!;
            foreach (var item in items)
            {
                list.Add(item);
            }

            return (object?)list;
        });
    }

    private static Gen<object?> Map(MapSchema schema)
    {
        var mapType = typeof(Dictionary<,>).MakeGenericType(typeof(string), ClrTypeOf(schema.ValueSchema));
        return Gen.Select(Text, Value(schema.ValueSchema)).List[0, 3].Select(entries =>
        {
            var map = (IDictionary)Activator.CreateInstance(mapType)!;
            foreach (var (key, value) in entries)
            {
                map[key] = value;
            }

            return (object?)map;
        });
    }

    /// <summary>The CLR type Avro's specific reader uses for values of a schema (list and map element types).</summary>
    private static Type ClrTypeOf(Schema schema) => schema switch
    {
        LogicalSchema { LogicalTypeName: "timestamp-millis" } => typeof(DateTime),
        LogicalSchema { LogicalTypeName: "decimal" } => typeof(AvroDecimal),
        NamedSchema named => ClrTypeOf(named),
        ArraySchema array => typeof(IList<>).MakeGenericType(ClrTypeOf(array.ItemSchema)),
        MapSchema map => typeof(IDictionary<,>).MakeGenericType(typeof(string), ClrTypeOf(map.ValueSchema)),
        UnionSchema { Count: 2 } union when union.Schemas.Any(s => s.Tag == Schema.Type.Null) =>
            ClrTypeOf(union.Schemas.First(s => s.Tag != Schema.Type.Null)) is { IsValueType: true } valueType
                ? typeof(Nullable<>).MakeGenericType(valueType)
                : ClrTypeOf(union.Schemas.First(s => s.Tag != Schema.Type.Null)),
        UnionSchema => typeof(object),
        PrimitiveSchema { Tag: Schema.Type.String } => typeof(string),
        PrimitiveSchema { Tag: Schema.Type.Int } => typeof(int),
        PrimitiveSchema { Tag: Schema.Type.Long } => typeof(long),
        PrimitiveSchema { Tag: Schema.Type.Boolean } => typeof(bool),
        PrimitiveSchema { Tag: Schema.Type.Double } => typeof(double),
        PrimitiveSchema { Tag: Schema.Type.Float } => typeof(float),
        PrimitiveSchema { Tag: Schema.Type.Bytes } => typeof(byte[]),
        _ => throw new NotSupportedException($"No CLR type for {schema}; extend AvroValues."),
    };
}
