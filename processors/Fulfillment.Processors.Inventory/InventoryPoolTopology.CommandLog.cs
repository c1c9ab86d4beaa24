using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Fulfillment.Processors.Inventory.Domain;

namespace Fulfillment.Processors.Inventory;

/// <summary>
/// The bytes of one entry of a pool's command log: the stream time the input record was decided at and the commands it
/// mapped to. Written on every input record, read back only when a pool is rebuilt from its snapshot and log.
/// <para>Binary (first byte <see cref="Version"/>): varints, length-prefixed UTF-8, one tag byte per command. Why not
/// JSON: reflection-based JSON of the commands was about a tenth of the processing thread's time, and its entries were
/// several times larger, which made snapshots (written once the log reaches the snapshot's size) that much more
/// frequent and the changelogs that much larger. Entries written as JSON (older state, or a command type this codec
/// does not know yet) start with '{' and are still read.</para>
/// </summary>
internal static class CommandLog
{
    private const byte Version = 1;

    [ThreadStatic]
    private static Writer? _writer;

    private static readonly JsonSerializerOptions Json = new();

    public static byte[] Write(DateTimeOffset at, List<InventoryCommand> commands)
    {
        foreach (var command in commands)
        {
            if (Tag(command) == 0)
            {
                // A command type added to the domain after this codec: keep it exact through JSON until it is added here.
                return JsonSerializer.SerializeToUtf8Bytes(new Entry(at, commands), Json);
            }
        }

        var w = _writer ??= new Writer();
        w.Reset();
        w.Byte(Version);
        w.Long(at.UtcTicks);
        w.Int((int)at.Offset.TotalMinutes);
        w.Int(commands.Count);
        foreach (var command in commands)
        {
            WriteCommand(w, command);
        }

        return w.ToArray();
    }

    public static (DateTimeOffset At, IReadOnlyList<InventoryCommand> Commands) Read(byte[] bytes)
    {
        if (bytes.Length > 0 && bytes[0] == (byte)'{')
        {
            var entry = JsonSerializer.Deserialize<Entry>(bytes, Json) ?? throw new InvalidDataException("Empty command log entry.");
            return (entry.At, entry.Commands);
        }

        var r = new Reader(bytes);
        if (r.Byte() != Version)
        {
            throw new InvalidDataException($"Command log entry of unknown version {bytes[0]}.");
        }

        var at = new DateTimeOffset(r.Long(), TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(r.Int()));
        var count = r.Count();
        var commands = new InventoryCommand[count];
        for (var i = 0; i < count; i++)
        {
            commands[i] = ReadCommand(ref r);
        }

        if (!r.AtEnd)
        {
            throw new InvalidDataException("Command log entry has trailing bytes.");
        }

        return (at, commands);
    }

    /// <summary>The JSON form (what older entries hold).</summary>
    internal sealed record Entry(DateTimeOffset At, IReadOnlyList<InventoryCommand> Commands);

    /// <summary>Tag of each command type this codec knows; 0 for any other.</summary>
    internal static byte Tag(InventoryCommand command) => command switch
    {
        ConfigurePool => 1,
        UpsertLocation => 2,
        DeactivateLocation => 3,
        SetChannelLocations => 4,
        SetRoutingRules => 5,
        DefineBundle => 6,
        RemoveBundle => 7,
        SetSafetyStock => 8,
        ReceiveStock => 9,
        AdjustStock => 10,
        CountStock => 11,
        RequestTransfer => 12,
        ShipTransfer => 13,
        ReceiveTransfer => 14,
        CancelTransfer => 15,
        ReconcileSnapshot => 16,
        PlaceOrder => 17,
        UpdateOrder => 18,
        CancelOrder => 19,
        ConfirmShipment => 20,
        RestockReturn => 21,
        _ => 0,
    };

    private static void WriteCommand(Writer w, InventoryCommand command)
    {
        w.Byte(Tag(command));
        switch (command)
        {
            case ConfigurePool c:
                w.Bool(c.AllowOversell);
                w.Bool(c.AllowSplit);
                w.Int((int)c.Backorders);
                break;
            case UpsertLocation c:
                w.String(c.LocationId);
                w.Int((int)c.Kind);
                w.Bool(c.Active);
                w.String(c.Country);
                w.String(c.Region);
                w.Geo(c.Geo);
                w.Strings(c.CountriesServed);
                w.Strings(c.RegionsServed);
                w.Bool(c.MaxOrderWeightGrams.HasValue);
                w.Int(c.MaxOrderWeightGrams ?? 0);
                w.Int(c.Priority);
                w.String(c.Address);
                break;
            case DeactivateLocation c:
                w.String(c.LocationId);
                break;
            case SetChannelLocations c:
                w.String(c.Channel);
                w.Strings(c.LocationIds);
                w.String(c.ShopId);
                break;
            case SetRoutingRules c:
                w.String(c.Channel);
                w.Count(c.Chain);
                foreach (var rule in c.Chain ?? [])
                {
                    w.Int((int)rule);
                }

                w.Bool(c.AllowSplit);
                w.Strings(c.LocationRanking);
                w.Strings(c.ExcludedLocations);
                w.Bool(c.RequireFullAvailability);
                w.String(c.ShopId);
                break;
            case DefineBundle c:
                w.String(c.BundleSku);
                w.SkuQuantities(c.Components);
                break;
            case RemoveBundle c:
                w.String(c.BundleSku);
                break;
            case SetSafetyStock c:
                w.String(c.Sku);
                w.String(c.LocationId);
                w.Int(c.Quantity);
                break;
            case ReceiveStock c:
                w.String(c.Sku);
                w.String(c.LocationId);
                w.Int(c.Quantity);
                w.String(c.Reference);
                break;
            case AdjustStock c:
                w.String(c.Sku);
                w.String(c.LocationId);
                w.Int(c.Delta);
                w.String(c.ReasonCode);
                break;
            case CountStock c:
                w.String(c.Sku);
                w.String(c.LocationId);
                w.Int(c.CountedQuantity);
                break;
            case RequestTransfer c:
                w.String(c.TransferId);
                w.String(c.FromLocationId);
                w.String(c.ToLocationId);
                w.SkuQuantities(c.Lines);
                break;
            case ShipTransfer c:
                w.String(c.TransferId);
                w.SkuQuantities(c.Lines);
                break;
            case ReceiveTransfer c:
                w.String(c.TransferId);
                w.SkuQuantities(c.Lines);
                break;
            case CancelTransfer c:
                w.String(c.TransferId);
                break;
            case ReconcileSnapshot c:
                w.String(c.LocationId);
                w.SkuQuantities(c.Quantities);
                w.Bool(c.Complete);
                break;
            case PlaceOrder c:
                w.String(c.OrderId);
                w.String(c.Channel);
                w.Int((int)c.Mode);
                w.Int(c.Priority);
                w.Long(c.PlacedAt.UtcTicks);
                w.Int((int)c.PlacedAt.Offset.TotalMinutes);
                w.ShipTo(c.ShipTo);
                w.OrderLines(c.Lines);
                w.String(c.ShopId);
                break;
            case UpdateOrder c:
                w.String(c.OrderId);
                w.ShipTo(c.ShipTo);
                w.OrderLines(c.Lines);
                break;
            case CancelOrder c:
                w.String(c.OrderId);
                w.String(c.Reason);
                break;
            case ConfirmShipment c:
                w.String(c.OrderId);
                w.String(c.ShipmentId);
                w.String(c.LocationId);
                w.Count(c.Lines);
                foreach (var line in c.Lines ?? [])
                {
                    w.String(line.LineId);
                    w.Int(line.Quantity);
                }

                break;
            case RestockReturn c:
                w.String(c.ReturnId);
                w.String(c.Sku);
                w.String(c.LocationId);
                w.Int(c.Quantity);
                break;
            default:
                throw new NotSupportedException($"No binary form for {command.GetType().Name}.");
        }
    }

    private static InventoryCommand ReadCommand(ref Reader r)
    {
        var tag = r.Byte();
        switch (tag)
        {
            case 1:
                return new ConfigurePool(r.Bool(), r.Bool(), (BackorderPolicy)r.Int());
            case 2:
            {
                var id = r.String()!;
                var kind = (LocationKind)r.Int();
                var active = r.Bool();
                var country = r.String()!;
                var region = r.String();
                var geo = r.Geo();
                var countries = r.Strings()!;
                var regions = r.Strings()!;
                var hasMax = r.Bool();
                var max = r.Int();
                return new UpsertLocation(id, kind, active, country, region, geo, countries, regions, hasMax ? max : null, r.Int(), r.String());
            }

            case 3:
                return new DeactivateLocation(r.String()!);
            case 4:
                return new SetChannelLocations(r.String()!, r.Strings(), r.String());
            case 5:
            {
                var channel = r.String()!;
                var count = r.NullableCount();
                RoutingRule[]? chain = null;
                if (count >= 0)
                {
                    chain = new RoutingRule[count];
                    for (var i = 0; i < count; i++)
                    {
                        chain[i] = (RoutingRule)r.Int();
                    }
                }

                return new SetRoutingRules(channel, chain!, r.Bool(), r.Strings()!, r.Strings(), r.Bool(), r.String());
            }

            case 6:
                return new DefineBundle(r.String()!, r.SkuQuantities()!);
            case 7:
                return new RemoveBundle(r.String()!);
            case 8:
                return new SetSafetyStock(r.String()!, r.String()!, r.Int());
            case 9:
                return new ReceiveStock(r.String()!, r.String()!, r.Int(), r.String()!);
            case 10:
                return new AdjustStock(r.String()!, r.String()!, r.Int(), r.String()!);
            case 11:
                return new CountStock(r.String()!, r.String()!, r.Int());
            case 12:
                return new RequestTransfer(r.String()!, r.String()!, r.String()!, r.SkuQuantities()!);
            case 13:
                return new ShipTransfer(r.String()!, r.SkuQuantities()!);
            case 14:
                return new ReceiveTransfer(r.String()!, r.SkuQuantities()!);
            case 15:
                return new CancelTransfer(r.String()!);
            case 16:
                return new ReconcileSnapshot(r.String()!, r.SkuQuantities()!, r.Bool());
            case 17:
            {
                var id = r.String()!;
                var channel = r.String()!;
                var mode = (FulfillmentMode)r.Int();
                var priority = r.Int();
                var placed = new DateTimeOffset(r.Long(), TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(r.Int()));
                return new PlaceOrder(id, channel, mode, priority, placed, r.ShipTo()!, r.OrderLines()!, r.String());
            }

            case 18:
                return new UpdateOrder(r.String()!, r.ShipTo()!, r.OrderLines()!);
            case 19:
                return new CancelOrder(r.String()!, r.String()!);
            case 20:
            {
                var order = r.String()!;
                var shipment = r.String()!;
                var location = r.String()!;
                var count = r.NullableCount();
                ShippedLine[]? lines = null;
                if (count >= 0)
                {
                    lines = new ShippedLine[count];
                    for (var i = 0; i < count; i++)
                    {
                        lines[i] = new ShippedLine(r.String()!, r.Int());
                    }
                }

                return new ConfirmShipment(order, shipment, location, lines!);
            }

            case 21:
                return new RestockReturn(r.String()!, r.String()!, r.String()!, r.Int());
            default:
                throw new InvalidDataException($"Command log entry holds an unknown command tag {tag}.");
        }
    }

    /// <summary>A growable buffer reused per thread (one entry at a time).</summary>
    private sealed class Writer
    {
        private byte[] _bytes = new byte[512];
        private int _length;

        public void Reset() => _length = 0;

        public byte[] ToArray() => _bytes.AsSpan(0, _length).ToArray();

        private Span<byte> Reserve(int count)
        {
            if (_length + count > _bytes.Length)
            {
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + count));
            }

            var span = _bytes.AsSpan(_length, count);
            _length += count;
            return span;
        }

        public void Byte(byte value) => Reserve(1)[0] = value;

        public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

        /// <summary>Zig-zag varint (negative deltas stay short).</summary>
        public void Long(long value)
        {
            var v = (ulong)((value << 1) ^ (value >> 63));
            while (v >= 0x80)
            {
                Byte((byte)(v | 0x80));
                v >>= 7;
            }

            Byte((byte)v);
        }

        public void Int(int value) => Long(value);

        /// <summary>Length + 1, 0 for null: every string the commands carry may be null in the JSON form too.</summary>
        public void String(string? value)
        {
            if (value is null)
            {
                Long(0);
                return;
            }

            var length = Encoding.UTF8.GetByteCount(value);
            Long(length + 1L);
            Encoding.UTF8.GetBytes(value, Reserve(length));
        }

        public void Count<T>(IReadOnlyCollection<T>? list) => Long(list is null ? 0 : list.Count + 1L);

        public void Strings(IReadOnlyList<string>? values)
        {
            Count(values);
            foreach (var value in values ?? [])
            {
                String(value);
            }
        }

        public void SkuQuantities(IReadOnlyList<SkuQuantity>? values)
        {
            Count(values);
            foreach (var value in values ?? [])
            {
                String(value.Sku);
                Int(value.Quantity);
            }
        }

        public void OrderLines(IReadOnlyList<OrderLineRequest>? values)
        {
            Count(values);
            foreach (var value in values ?? [])
            {
                String(value.LineId);
                String(value.Sku);
                Int(value.Quantity);
                Int(value.WeightGrams);
            }
        }

        public void Geo(GeoPoint? geo)
        {
            Bool(geo.HasValue);
            if (geo is { } g)
            {
                var span = Reserve(16);
                BinaryPrimitives.WriteDoubleLittleEndian(span, g.Latitude);
                BinaryPrimitives.WriteDoubleLittleEndian(span[8..], g.Longitude);
            }
        }

        public void ShipTo(ShipTo? to)
        {
            Bool(to is not null);
            if (to is not null)
            {
                String(to.Country);
                String(to.Region);
                Geo(to.Geo);
            }
        }
    }

    private ref struct Reader(byte[] bytes)
    {
        private readonly byte[] _bytes = bytes;
        private int _position;

        public readonly bool AtEnd => _position == _bytes.Length;

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > _bytes.Length - _position)
            {
                throw new InvalidDataException("Command log entry is truncated.");
            }

            var span = _bytes.AsSpan(_position, count);
            _position += count;
            return span;
        }

        public byte Byte() => Take(1)[0];

        public bool Bool() => Byte() != 0;

        public long Long()
        {
            ulong v = 0;
            for (var shift = 0; ; shift += 7)
            {
                if (shift > 63)
                {
                    throw new InvalidDataException("Command log entry has an overlong varint.");
                }

                var b = Byte();
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    break;
                }
            }

            return (long)(v >> 1) ^ -(long)(v & 1);
        }

        public int Int() => checked((int)Long());

        /// <summary>A non-null collection's count.</summary>
        public int Count()
        {
            var count = Int();
            return count >= 0 && count <= _bytes.Length - _position ? count : throw new InvalidDataException($"Command log entry has a count of {count}.");
        }

        /// <summary>Count of a collection written with its null marker; -1 for null.</summary>
        public int NullableCount()
        {
            var count = Int() - 1;
            return count <= _bytes.Length - _position ? count : throw new InvalidDataException($"Command log entry has a count of {count}.");
        }

        public string? String()
        {
            var length = Int() - 1;
            return length < 0 ? null : Encoding.UTF8.GetString(Take(length));
        }

        public string[]? Strings()
        {
            var count = NullableCount();
            if (count < 0)
            {
                return null;
            }

            var values = new string[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = String()!;
            }

            return values;
        }

        public SkuQuantity[]? SkuQuantities()
        {
            var count = NullableCount();
            if (count < 0)
            {
                return null;
            }

            var values = new SkuQuantity[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = new SkuQuantity(String()!, Int());
            }

            return values;
        }

        public OrderLineRequest[]? OrderLines()
        {
            var count = NullableCount();
            if (count < 0)
            {
                return null;
            }

            var values = new OrderLineRequest[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = new OrderLineRequest(String()!, String()!, Int(), Int());
            }

            return values;
        }

        public GeoPoint? Geo()
        {
            if (!Bool())
            {
                return null;
            }

            var span = Take(16);
            return new GeoPoint(BinaryPrimitives.ReadDoubleLittleEndian(span), BinaryPrimitives.ReadDoubleLittleEndian(span[8..]));
        }

        public ShipTo? ShipTo() => Bool() ? new ShipTo(String()!, String(), Geo()) : null;
    }
}
