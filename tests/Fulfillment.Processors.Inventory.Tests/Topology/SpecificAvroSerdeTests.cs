using System.Collections;
using System.Numerics;
using Avro;
using Avro.IO;
using Avro.Specific;
using CsCheck;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

/// <summary>
/// The serde's own encoder must produce exactly Apache.Avro's bytes (other consumers read our topics with Confluent's
/// and Apache's readers) and read them back to equal values, for random values of every type the processor touches.
/// </summary>
public sealed class SpecificAvroSerdeTests
{
    [Fact]
    public void Serialize_RandomValuesOfEveryTopicType_SameBytesAsApacheAvroAndRoundTrips()
    {
        Check<OrderEvent>();
        Check<OperatorCommand>();
        Check<StockMovementEvent>();
        Check<ShipmentEvent>();
        Check<AllocationEvent>();
        Check<StockLevelEvent>();
        Check<DeadLetter>();
    }

    [Fact]
    public void Deserialize_TruncatedOrCorruptPayload_ThrowsInsteadOfReturningGarbage()
    {
        var serde = new SpecificAvroSerde<OrderEvent>(7);
        Gen.Int.Sample(seed =>
        {
            var bytes = serde.Serialize(RandomValue<OrderEvent>(new Random(seed)))!;
            var cut = bytes[..(5 + (Math.Abs(seed) % (bytes.Length - 5)))];
            Should.Throw<Exception>(() => serde.Deserialize(cut));
        }, iter: 200);
        Should.Throw<FormatException>(() => serde.Deserialize([1, 0, 0, 0, 7, 2]));
    }

    private static void Check<T>()
        where T : ISpecificRecord, new()
    {
        var serde = new SpecificAvroSerde<T>(42);
        // Every topic type must take the fast path, not the Apache.Avro fallback.
        typeof(SpecificAvroSerde<T>).GetField("_plan", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .GetValue(serde).ShouldNotBeNull(typeof(T).Name);
        var schema = new T().Schema;
        var writer = new SpecificDatumWriter<T>(schema);
        Gen.Int.Sample(seed =>
        {
            var value = RandomValue<T>(new Random(seed));
            var ours = serde.Serialize(value)!;
            using var stream = new MemoryStream();
            stream.Write([0, 0, 0, 0, 42]);
            writer.Write(value, new BinaryEncoder(stream));
            ours.ShouldBe(stream.ToArray(), $"{typeof(T).Name} seed {seed}");
            serde.Serialize(serde.Deserialize(ours))!.ShouldBe(ours, $"{typeof(T).Name} seed {seed} round trip");
        }, iter: 300);
    }

    private static T RandomValue<T>(Random random)
        where T : ISpecificRecord, new() =>
        (T)Value(new T().Schema, random, typeof(T).Assembly, 0)!;

    private static object? Value(Schema schema, Random random, System.Reflection.Assembly assembly, int depth)
    {
        switch (schema)
        {
            case LogicalSchema logical when logical.LogicalTypeName == "timestamp-millis":
                return DateTime.UnixEpoch.AddMilliseconds(random.NextInt64(-10_000_000_000, 10_000_000_000_000));
            case LogicalSchema logical when logical.LogicalTypeName == "decimal":
                var scale = byte.Parse(logical.GetProperty("scale") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                return new AvroDecimal(new decimal(random.Next(), random.Next(1000), 0, random.Next(2) == 0, scale));
            case RecordSchema record:
                var instance = (ISpecificRecord)Activator.CreateInstance(assembly.GetType(record.Fullname)!)!;
                foreach (var field in record.Fields)
                {
                    instance.Put(field.Pos, Value(field.Schema, random, assembly, depth + 1));
                }

                return instance;
            case EnumSchema e:
                return Enum.Parse(assembly.GetType(e.Fullname)!, e.Symbols[random.Next(e.Symbols.Count)]);
            case ArraySchema array:
                var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(ClrType(array.ItemSchema, assembly)))!;
                for (var i = depth > 4 ? 0 : random.Next(4); i > 0; i--)
                {
                    list.Add(Value(array.ItemSchema, random, assembly, depth + 1));
                }

                return list;
            case MapSchema map:
                var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), ClrType(map.ValueSchema, assembly)))!;
                for (var i = depth > 4 ? 0 : random.Next(3); i > 0; i--)
                {
                    dictionary[Text(random)] = Value(map.ValueSchema, random, assembly, depth + 1);
                }

                return dictionary;
            case UnionSchema union:
                return Value(union.Schemas[random.Next(union.Count)], random, assembly, depth + 1);
            default:
                return schema.Tag switch
                {
                    Schema.Type.Null => null,
                    Schema.Type.Boolean => random.Next(2) == 0,
                    Schema.Type.Int => random.Next(4) switch { 0 => int.MinValue, 1 => int.MaxValue, _ => random.Next(-100_000, 100_000) },
                    Schema.Type.Long => random.Next(3) == 0 ? long.MinValue + random.Next(2) : random.NextInt64(long.MinValue, long.MaxValue),
                    Schema.Type.Float => (float)(random.NextDouble() * 1e6),
                    Schema.Type.Double => (random.NextDouble() - 0.5) * 1e9,
                    Schema.Type.Bytes => RandomBytes(random),
                    Schema.Type.String => Text(random),
                    _ => throw new NotSupportedException(schema.Tag.ToString()),
                };
        }
    }

    private static Type ClrType(Schema schema, System.Reflection.Assembly assembly) => schema switch
    {
        LogicalSchema logical => logical.LogicalType.GetCSharpType(false),
        NamedSchema named when schema.Tag is Schema.Type.Record or Schema.Type.Enumeration => assembly.GetType(named.Fullname)!,
        ArraySchema array => typeof(IList<>).MakeGenericType(ClrType(array.ItemSchema, assembly)),
        MapSchema map => typeof(IDictionary<,>).MakeGenericType(typeof(string), ClrType(map.ValueSchema, assembly)),
        UnionSchema union when union.Count == 2 && union.Schemas.Any(s => s.Tag == Schema.Type.Null) =>
            ClrType(union.Schemas.First(s => s.Tag != Schema.Type.Null), assembly) is { IsValueType: true } t ? typeof(Nullable<>).MakeGenericType(t) : ClrType(union.Schemas.First(s => s.Tag != Schema.Type.Null), assembly),
        UnionSchema => typeof(object),
        _ => schema.Tag switch
        {
            Schema.Type.Boolean => typeof(bool),
            Schema.Type.Int => typeof(int),
            Schema.Type.Long => typeof(long),
            Schema.Type.Float => typeof(float),
            Schema.Type.Double => typeof(double),
            Schema.Type.Bytes => typeof(byte[]),
            _ => typeof(string),
        },
    };

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(40)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Text(Random random)
    {
        const string alphabet = "abcXYZ019 -_#/@éü日本🙂";
        var chars = new System.Text.StringBuilder();
        for (var i = random.Next(30); i > 0; i--)
        {
            var c = alphabet[random.Next(alphabet.Length)];
            if (char.IsSurrogate(c))
            {
                chars.Append("🙂");
            }
            else
            {
                chars.Append(c);
            }
        }

        return chars.ToString();
    }
}
