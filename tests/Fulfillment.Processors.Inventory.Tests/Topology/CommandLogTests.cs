using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsCheck;
using Fulfillment.Processors.Inventory.Domain;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

/// <summary>
/// The pool's command log is its durable history between snapshots: an entry read back must be exactly the commands
/// written. Commands are built by reflection from every type the domain declares (JsonDerivedType on
/// InventoryCommand) with random values for every constructor parameter, so a command type or a field added to the
/// domain without a binary form here fails this test instead of being dropped from the log.
/// </summary>
public sealed class CommandLogTests
{
    private static readonly JsonSerializerOptions Json = new();

    private static readonly Type[] CommandTypes =
    [
        .. typeof(InventoryCommand).GetCustomAttributes<JsonDerivedTypeAttribute>().Select(a => a.DerivedType),
    ];

    [Fact]
    public void CommandLog_EveryDomainCommandType_HasABinaryForm()
    {
        CommandTypes.Length.ShouldBeGreaterThan(15);
        foreach (var type in CommandTypes)
        {
            CommandLog.Tag(Build(type, new Random(1))).ShouldNotBe((byte)0, $"{type.Name} has no binary form in CommandLog");
        }
    }

    [Fact]
    public void CommandLog_RandomCommandsOfEveryType_ReadBackEqualToWhatWasWritten()
    {
        Gen.Int.Sample(seed =>
        {
            var random = new Random(seed);
            var commands = Enumerable.Range(0, 1 + random.Next(6)).Select(_ => Build(CommandTypes[random.Next(CommandTypes.Length)], random)).ToList();
            var at = new DateTimeOffset(random.NextInt64(0, DateTimeOffset.MaxValue.UtcTicks / 2), TimeSpan.Zero);

            var bytes = CommandLog.Write(at, commands);
            bytes[0].ShouldBe((byte)1, "binary, not the JSON fallback");
            var (readAt, read) = CommandLog.Read(bytes);

            readAt.ShouldBe(at);
            read.Count.ShouldBe(commands.Count);
            for (var i = 0; i < commands.Count; i++)
            {
                Canonical([read[i]]).ShouldBe(Canonical([commands[i]]), commands[i].GetType().Name);
            }
        }, iter: 300);
    }

    [Fact]
    public void CommandLog_EntryWrittenAsJsonByEarlierVersions_IsStillRead()
    {
        var commands = new List<InventoryCommand>
        {
            new ReceiveStock("SKU-1", "WH-1", 5, "r1"),
            new PlaceOrder("o1", "web", FulfillmentMode.Merchant, 0, DateTimeOffset.UnixEpoch, new ShipTo("US", null, new GeoPoint(1, 2)), [new OrderLineRequest("1", "SKU-1", 2)]),
        };
        var at = new DateTimeOffset(2026, 11, 24, 5, 0, 0, TimeSpan.Zero);
        var legacy = JsonSerializer.SerializeToUtf8Bytes(new CommandLog.Entry(at, commands), Json);

        var (readAt, read) = CommandLog.Read(legacy);

        readAt.ShouldBe(at);
        Canonical(read).ShouldBe(Canonical(commands));
    }

    [Fact]
    public void CommandLog_TruncatedOrCorruptEntry_Throws()
    {
        var bytes = CommandLog.Write(DateTimeOffset.UnixEpoch, [new CancelOrder("o1", "customer")]);
        Should.Throw<InvalidDataException>(() => CommandLog.Read(bytes[..^2]));
        Should.Throw<InvalidDataException>(() => CommandLog.Read([.. bytes, 0]));
        Should.Throw<InvalidDataException>(() => CommandLog.Read([9, .. bytes[1..]]));
    }

    /// <summary>JSON of the commands as the domain declares them: structural equality including nested lists.</summary>
    private static string Canonical(IEnumerable<InventoryCommand> commands) =>
        JsonSerializer.Serialize(commands.ToList(), Json);

    private static InventoryCommand Build(Type type, Random random) => (InventoryCommand)Value(type, random, depth: 0)!;

    private static object? Value(Type type, Random random, int depth)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner)
        {
            return random.Next(3) == 0 ? null : Value(inner, random, depth);
        }

        if (type == typeof(string))
        {
            return random.Next(10) == 0 ? "" : new string([.. Enumerable.Range(0, 1 + random.Next(12)).Select(_ => (char)random.Next(32, 0x24F))]);
        }

        if (type == typeof(int))
        {
            return random.Next(4) == 0 ? random.Next(int.MinValue, int.MaxValue) : random.Next(-50, 1000);
        }

        if (type == typeof(bool))
        {
            return random.Next(2) == 0;
        }

        if (type == typeof(double))
        {
            return (random.NextDouble() * 360) - 180;
        }

        if (type == typeof(DateTimeOffset))
        {
            return new DateTimeOffset(random.NextInt64(0, DateTimeOffset.MaxValue.UtcTicks / 2), TimeSpan.FromMinutes(random.Next(-12, 14) * 60));
        }

        if (type.IsEnum)
        {
            var values = Enum.GetValues(type);
            return values.GetValue(random.Next(values.Length));
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            var item = type.GetGenericArguments()[0];
            var list = Array.CreateInstance(item, depth > 2 ? 0 : random.Next(4));
            for (var i = 0; i < list.Length; i++)
            {
                list.SetValue(Value(item, random, depth + 1), i);
            }

            return list;
        }

        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        var arguments = constructor.GetParameters().Select(p => ParameterValue(p, random, depth)).ToArray();
        return constructor.Invoke(arguments);
    }

    private static object? ParameterValue(ParameterInfo parameter, Random random, int depth)
    {
        // Reference types declared nullable (string?, IReadOnlyList<string>?) get nulls too.
        var nullable = new NullabilityInfoContext().Create(parameter).WriteState == NullabilityState.Nullable;
        if (nullable && !parameter.ParameterType.IsValueType && random.Next(3) == 0)
        {
            return null;
        }

        return Value(parameter.ParameterType, random, depth + 1);
    }
}
