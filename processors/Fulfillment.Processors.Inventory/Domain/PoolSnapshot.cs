using System.Text;

namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>
/// Compact binary form of a whole <see cref="PoolState"/>: what the topology stores instead of an ever-growing command
/// log. Exact: interned SKU and location ids keep their numbers (outputs are ordered by them), allocations keep their
/// order, and everything derived (waiting sets, bundle back-references, configured-channel order) is rebuilt the way
/// the decider builds it, so a restored state decides every later command exactly as the original would.
/// Size is proportional to what the pool holds now (SKUs × locations, open orders, open transfers), never to its history.
/// Integers are 7-bit varints; collections written in id or ordinal order, so equal states give equal bytes.
/// </summary>
public static class PoolSnapshot
{
    /// <summary>Version 2 added shop configurations, excluded locations, require-full and order shop ids; 1 is still read.</summary>
    private const byte Version = 2;

    public static byte[] Write(PoolState state)
    {
        using var stream = new MemoryStream();
        WriteTo(state, stream);
        return stream.ToArray();
    }

    /// <summary>Appends the snapshot to <paramref name="stream"/>. Why a caller's stream: snapshots grow with the pool
    /// (hundreds of KB with many open orders); a stream kept per thread keeps its capacity, so writing one does not
    /// regrow and copy large-object-heap buffers each time (those allocations set off full collections).</summary>
    public static void WriteTo(PoolState state, MemoryStream stream)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(stream);
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Version);
            w.Write(state.AllowOversell);
            w.Write(state.AllowSplit);
            w.Write7BitEncodedInt((int)state.Backorders);
            w.Write7BitEncodedInt(state.CommandSeq);

            w.Write7BitEncodedInt(state.Locations.Count);
            foreach (var l in state.Locations)
            {
                w.Write(l.Id);
                w.Write7BitEncodedInt((int)l.Kind);
                w.Write(l.Active);
                w.Write(l.Country);
                WriteNullable(w, l.Region);
                WriteGeo(w, l.Geo);
                WriteStrings(w, l.CountriesServed);
                WriteStrings(w, l.RegionsServed);
                w.Write(l.MaxOrderWeightGrams.HasValue);
                if (l.MaxOrderWeightGrams is { } max)
                {
                    w.Write7BitEncodedInt(max);
                }

                w.Write7BitEncodedInt(l.Priority);
                WriteNullable(w, l.Address);
            }

            w.Write7BitEncodedInt(state.Skus.Count);
            foreach (var sku in state.Skus)
            {
                w.Write(sku.Code);
                WriteComponents(w, sku.Bundle);
                w.Write7BitEncodedInt(sku.Cells.Length);
                foreach (var cell in sku.Cells)
                {
                    w.Write(cell is not null);
                    if (cell is not null)
                    {
                        w.Write7BitEncodedInt(cell.OnHand);
                        w.Write7BitEncodedInt(cell.Allocated);
                        w.Write7BitEncodedInt(cell.Reserved);
                        w.Write7BitEncodedInt(cell.Safety);
                        w.Write7BitEncodedInt(cell.InTransit);
                    }
                }
            }

            var channels = state.Channels.Values.OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
            w.Write7BitEncodedInt(channels.Count);
            foreach (var c in channels)
            {
                w.Write(c.Name);
                WriteConfig(w, c);
                var shops = c.Shops?.Values.OrderBy(x => x.Shop, StringComparer.Ordinal).ToList() ?? [];
                w.Write7BitEncodedInt(shops.Count);
                foreach (var shop in shops)
                {
                    w.Write(shop.Shop!);
                    w.Write(shop.OwnMapping);
                    WriteConfig(w, shop);
                }
            }

            // Ids are the dictionary's keys, so unique: an unstable sort gives the same order as a stable one.
            var orders = new Order[state.Orders.Count];
            state.Orders.Values.CopyTo(orders, 0);
            Array.Sort(orders, static (a, b) => string.CompareOrdinal(a.Id, b.Id));
            w.Write7BitEncodedInt(orders.Length);
            foreach (var o in orders)
            {
                w.Write(o.Id);
                w.Write(o.Channel.Name);
                WriteNullable(w, o.ShopId);
                w.Write7BitEncodedInt((int)o.Mode);
                w.Write7BitEncodedInt(o.Priority);
                w.Write(o.PlacedAt.UtcTicks);
                w.Write7BitEncodedInt((int)o.PlacedAt.Offset.TotalMinutes);
                w.Write(o.ShipTo.Country);
                WriteNullable(w, o.ShipTo.Region);
                WriteGeo(w, o.ShipTo.Geo);
                w.Write7BitEncodedInt(o.Lines.Length);
                foreach (var line in o.Lines)
                {
                    w.Write(line.LineId);
                    w.Write7BitEncodedInt(line.SkuId);
                    w.Write7BitEncodedInt(line.Quantity);
                    w.Write7BitEncodedInt(line.WeightGrams);
                    WriteComponents(w, line.Components);
                    w.Write7BitEncodedInt(line.Shipped);
                    w.Write7BitEncodedInt(line.AllocatedTotal);
                    w.Write7BitEncodedInt(line.Allocations.Count);
                    foreach (var a in line.Allocations)
                    {
                        w.Write7BitEncodedInt(a.Location);
                        w.Write7BitEncodedInt(a.Quantity);
                    }
                }

                WriteStrings(w, o.Shipments is null ? null : [.. o.Shipments.Order(StringComparer.Ordinal)]);
                w.Write(o.WaitingOn is not null);
                if (o.WaitingOn is not null)
                {
                    w.Write7BitEncodedInt(o.WaitingOn.Count);
                    foreach (var sku in o.WaitingOn)
                    {
                        w.Write7BitEncodedInt(sku);
                    }
                }
            }

            var transfers = state.Transfers.Values.OrderBy(t => t.Id, StringComparer.Ordinal).ToList();
            w.Write7BitEncodedInt(transfers.Count);
            foreach (var t in transfers)
            {
                w.Write(t.Id);
                w.Write7BitEncodedInt(t.From);
                w.Write7BitEncodedInt(t.To);
                w.Write7BitEncodedInt((int)t.Status);
                w.Write7BitEncodedInt(t.Lines.Length);
                foreach (var line in t.Lines)
                {
                    w.Write7BitEncodedInt(line.Sku);
                    w.Write7BitEncodedInt(line.Requested);
                    w.Write7BitEncodedInt(line.Reserved);
                    w.Write7BitEncodedInt(line.Shipped);
                    w.Write7BitEncodedInt(line.Received);
                }
            }
        }
    }

    /// <exception cref="InvalidDataException">The bytes are not a snapshot of this version.</exception>
    public static PoolState Read(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            using var stream = new MemoryStream(bytes.ToArray(), writable: false);
            using var r = new BinaryReader(stream, Encoding.UTF8);
            var version = r.ReadByte();
            if (version is not (1 or Version))
            {
                throw new InvalidDataException($"Pool snapshot version {version} is not supported (expected 1 or {Version}).");
            }

            var s = new PoolState
            {
                AllowOversell = r.ReadBoolean(),
                AllowSplit = r.ReadBoolean(),
                Backorders = (BackorderPolicy)r.Read7BitEncodedInt(),
            };
            s.CommandSeq = r.Read7BitEncodedInt();

            var locations = Count(r);
            for (var i = 0; i < locations; i++)
            {
                var l = new LocationState(r.ReadString(), i)
                {
                    Kind = (LocationKind)r.Read7BitEncodedInt(),
                    Active = r.ReadBoolean(),
                    Country = r.ReadString(),
                    Region = ReadNullable(r),
                    Geo = ReadGeo(r),
                    CountriesServed = ReadStrings(r) ?? [],
                    RegionsServed = ReadStrings(r) ?? [],
                    MaxOrderWeightGrams = r.ReadBoolean() ? r.Read7BitEncodedInt() : null,
                    Priority = r.Read7BitEncodedInt(),
                    Address = ReadNullable(r),
                };
                s.LocationIds.Add(l.Id, i);
                s.Locations.Add(l);
            }

            var skus = Count(r);
            for (var i = 0; i < skus; i++)
            {
                var entry = new SkuEntry(r.ReadString(), i) { Bundle = ReadComponents(r) };
                var cells = new StockCell?[Count(r)];
                for (var l = 0; l < cells.Length; l++)
                {
                    if (r.ReadBoolean())
                    {
                        cells[l] = new StockCell(i, l)
                        {
                            OnHand = r.Read7BitEncodedInt(),
                            Allocated = r.Read7BitEncodedInt(),
                            Reserved = r.Read7BitEncodedInt(),
                            Safety = r.Read7BitEncodedInt(),
                            InTransit = r.Read7BitEncodedInt(),
                        };
                    }
                }

                entry.Cells = cells;
                s.SkuIds.Add(entry.Code, i);
                s.Skus.Add(entry);
            }

            // Back-references from components to bundles: sorted bundle ids, as the decider keeps them.
            foreach (var bundle in s.Skus)
            {
                foreach (var c in bundle.Bundle ?? [])
                {
                    (s.Skus[c.Sku].UsedInBundles ??= []).Add(bundle.Id);
                }
            }

            var channels = Count(r);
            for (var i = 0; i < channels; i++)
            {
                var c = s.Channel(r.ReadString());
                if (version == 1)
                {
                    ReadConfigV1(r, s, c);
                    continue;
                }

                ReadConfig(r, s, c);
                var shops = Count(r);
                for (var k = 0; k < shops; k++)
                {
                    var shop = s.Shop(c.Name, r.ReadString());
                    shop.OwnMapping = r.ReadBoolean();
                    ReadConfig(r, s, shop);
                }
            }

            var orders = Count(r);
            for (var i = 0; i < orders; i++)
            {
                var id = r.ReadString();
                var channel = s.Channel(r.ReadString());
                var shopId = version == 1 ? null : ReadNullable(r);
                var mode = (FulfillmentMode)r.Read7BitEncodedInt();
                var priority = r.Read7BitEncodedInt();
                var ticks = r.ReadInt64();
                var offset = TimeSpan.FromMinutes(r.Read7BitEncodedInt());
                var order = new Order(id, channel, mode, priority, new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(offset), shopId)
                {
                    ShipTo = new ShipTo(r.ReadString(), ReadNullable(r), ReadGeo(r)),
                };
                var lines = new OrderLine[Count(r)];
                for (var k = 0; k < lines.Length; k++)
                {
                    var lineId = r.ReadString();
                    var skuId = r.Read7BitEncodedInt();
                    var line = new OrderLine(lineId, skuId, s.Skus[skuId].Code, r.Read7BitEncodedInt(), r.Read7BitEncodedInt(), ReadComponents(r) ?? [])
                    {
                        Shipped = r.Read7BitEncodedInt(),
                        AllocatedTotal = r.Read7BitEncodedInt(),
                    };
                    var allocations = Count(r);
                    for (var a = 0; a < allocations; a++)
                    {
                        line.Allocations.Add(new LocQty(r.Read7BitEncodedInt(), r.Read7BitEncodedInt()));
                    }

                    lines[k] = line;
                }

                order.Lines = lines;
                if (ReadStrings(r) is { } shipments)
                {
                    order.Shipments = new HashSet<string>(shipments, StringComparer.Ordinal);
                }

                if (r.ReadBoolean())
                {
                    var waiting = new List<int>(Count(r));
                    for (var k = waiting.Capacity; k > 0; k--)
                    {
                        var sku = r.Read7BitEncodedInt();
                        waiting.Add(sku);
                        (s.Skus[sku].Waiting ??= new SortedSet<Order>(BackorderOrder.Instance)).Add(order);
                    }

                    order.WaitingOn = waiting;
                }

                s.Orders.Add(id, order);
            }

            var transfers = Count(r);
            for (var i = 0; i < transfers; i++)
            {
                var id = r.ReadString();
                var from = r.Read7BitEncodedInt();
                var to = r.Read7BitEncodedInt();
                var status = (TransferStatus)r.Read7BitEncodedInt();
                var lines = new TransferLine[Count(r)];
                for (var k = 0; k < lines.Length; k++)
                {
                    lines[k] = new TransferLine(r.Read7BitEncodedInt(), r.Read7BitEncodedInt())
                    {
                        Reserved = r.Read7BitEncodedInt(),
                        Shipped = r.Read7BitEncodedInt(),
                        Received = r.Read7BitEncodedInt(),
                    };
                }

                s.Transfers.Add(id, new Transfer(id, from, to, lines) { Status = status });
            }

            if (stream.Position != stream.Length)
            {
                throw new InvalidDataException($"Pool snapshot has {stream.Length - stream.Position} trailing bytes.");
            }

            return s;
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw new InvalidDataException($"Corrupt pool snapshot: {e.Message}", e);
        }
    }

    /// <summary>A channel's or shop's own settings: configured flag, mapping, routing (null = inherited/default).</summary>
    private static void WriteConfig(BinaryWriter w, ChannelConfig c)
    {
        w.Write(c.Configured);
        var mapped = c.Parent is null || c.OwnMapping ? c.Mapped : null;
        WriteFlags(w, mapped);
        w.Write(c.OwnRouting is not null);
        if (c.OwnRouting is { } routing)
        {
            w.Write7BitEncodedInt(routing.Chain.Length);
            foreach (var rule in routing.Chain)
            {
                w.Write7BitEncodedInt((int)rule);
            }

            w.Write7BitEncodedInt(routing.AllowSplit switch { null => 0, false => 1, true => 2 });
            w.Write(routing.Ranking is not null);
            if (routing.Ranking is not null)
            {
                w.Write7BitEncodedInt(routing.Ranking.Length);
                foreach (var rank in routing.Ranking)
                {
                    w.Write7BitEncodedInt(rank);
                }
            }

            WriteFlags(w, routing.Excluded);
            w.Write(routing.RequireFull);
        }
    }

    private static void ReadConfig(BinaryReader r, PoolState s, ChannelConfig c)
    {
        var configured = r.ReadBoolean();
        c.Mapped = ReadFlags(r);
        if (r.ReadBoolean())
        {
            var chain = ReadChain(r);
            var allowSplit = ReadSplit(r);
            var ranking = ReadRanking(r);
            c.OwnRouting = new RoutingSettings(chain, allowSplit, ranking, ReadFlags(r), r.ReadBoolean());
        }

        if (configured)
        {
            s.MarkConfigured(c);
        }
    }

    /// <summary>Version 1: channels only, every one with its chain, split policy and ranking.</summary>
    private static void ReadConfigV1(BinaryReader r, PoolState s, ChannelConfig c)
    {
        var configured = r.ReadBoolean();
        c.Mapped = ReadFlags(r);
        var chain = ReadChain(r);
        var allowSplit = ReadSplit(r);
        var ranking = ReadRanking(r);
        if (allowSplit is not null || ranking is not null || !chain.AsSpan().SequenceEqual(RoutingSettings.DefaultChain))
        {
            c.OwnRouting = new RoutingSettings(chain, allowSplit, ranking, null, false);
        }

        if (configured)
        {
            s.MarkConfigured(c);
        }
    }

    private static RoutingRule[] ReadChain(BinaryReader r)
    {
        var chain = new RoutingRule[Count(r)];
        for (var k = 0; k < chain.Length; k++)
        {
            chain[k] = (RoutingRule)r.Read7BitEncodedInt();
        }

        return chain;
    }

    private static bool? ReadSplit(BinaryReader r) => r.Read7BitEncodedInt() switch { 0 => null, 1 => false, _ => true };

    private static int[]? ReadRanking(BinaryReader r)
    {
        if (!r.ReadBoolean())
        {
            return null;
        }

        var ranking = new int[Count(r)];
        for (var k = 0; k < ranking.Length; k++)
        {
            ranking[k] = r.Read7BitEncodedInt();
        }

        return ranking;
    }

    private static void WriteFlags(BinaryWriter w, bool[]? flags)
    {
        w.Write(flags is not null);
        if (flags is not null)
        {
            w.Write7BitEncodedInt(flags.Length);
            foreach (var f in flags)
            {
                w.Write(f);
            }
        }
    }

    private static bool[]? ReadFlags(BinaryReader r)
    {
        if (!r.ReadBoolean())
        {
            return null;
        }

        var flags = new bool[Count(r)];
        for (var i = 0; i < flags.Length; i++)
        {
            flags[i] = r.ReadBoolean();
        }

        return flags;
    }

    private static int Count(BinaryReader r)
    {
        var n = r.Read7BitEncodedInt();
        return n >= 0 ? n : throw new InvalidDataException($"Negative count {n} in a pool snapshot.");
    }

    private static void WriteNullable(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null)
        {
            w.Write(value);
        }
    }

    private static string? ReadNullable(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void WriteGeo(BinaryWriter w, GeoPoint? geo)
    {
        w.Write(geo.HasValue);
        if (geo is { } g)
        {
            w.Write(g.Latitude);
            w.Write(g.Longitude);
        }
    }

    private static GeoPoint? ReadGeo(BinaryReader r) => r.ReadBoolean() ? new GeoPoint(r.ReadDouble(), r.ReadDouble()) : null;

    private static void WriteStrings(BinaryWriter w, string[]? values)
    {
        w.Write(values is not null);
        if (values is not null)
        {
            w.Write7BitEncodedInt(values.Length);
            foreach (var v in values)
            {
                w.Write(v);
            }
        }
    }

    private static string[]? ReadStrings(BinaryReader r)
    {
        if (!r.ReadBoolean())
        {
            return null;
        }

        var values = new string[Count(r)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = r.ReadString();
        }

        return values;
    }

    private static void WriteComponents(BinaryWriter w, Component[]? components)
    {
        w.Write(components is not null);
        if (components is not null)
        {
            w.Write7BitEncodedInt(components.Length);
            foreach (var c in components)
            {
                w.Write7BitEncodedInt(c.Sku);
                w.Write7BitEncodedInt(c.Quantity);
            }
        }
    }

    private static Component[]? ReadComponents(BinaryReader r)
    {
        if (!r.ReadBoolean())
        {
            return null;
        }

        var components = new Component[Count(r)];
        for (var i = 0; i < components.Length; i++)
        {
            components[i] = new Component(r.Read7BitEncodedInt(), r.Read7BitEncodedInt());
        }

        return components;
    }
}
