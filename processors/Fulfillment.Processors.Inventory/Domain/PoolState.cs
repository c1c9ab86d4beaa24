namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>
/// All state of one inventory pool. Mutated only by <see cref="InventoryDecider"/>; read through the query methods.
/// SKU and location strings are interned to dense ints; locations index the per-SKU cell arrays, so the hot path
/// is one dictionary lookup per SKU and array indexing per location.
/// </summary>
public sealed class PoolState
{
    internal readonly Dictionary<string, int> SkuIds = new(StringComparer.Ordinal);
    internal readonly List<SkuEntry> Skus = [];
    internal readonly Dictionary<string, int> LocationIds = new(StringComparer.Ordinal);
    internal readonly List<LocationState> Locations = [];
    internal readonly Dictionary<string, ChannelConfig> Channels = new(StringComparer.Ordinal);
    /// <summary>Configured channels in ordinal name order, so per-channel outputs never depend on hash order.</summary>
    internal readonly List<ChannelConfig> ConfiguredChannels = [];
    internal readonly Dictionary<string, Order> Orders = new(StringComparer.Ordinal);
    internal readonly Dictionary<string, Transfer> Transfers = new(StringComparer.Ordinal);

    public bool AllowOversell { get; internal set; }

    /// <summary>Split policy of channels whose routing rules do not set one.</summary>
    public bool AllowSplit { get; internal set; } = true;

    public BackorderPolicy Backorders { get; internal set; }

    /// <summary>Counts decided commands; marks which cells a command touched without a per-command set.</summary>
    internal int CommandSeq;

    internal int SkuId(string sku)
    {
        if (SkuIds.TryGetValue(sku, out var id))
        {
            return id;
        }

        id = Skus.Count;
        SkuIds.Add(sku, id);
        Skus.Add(new SkuEntry(sku, id));
        return id;
    }

    internal int Available(int sku, int location)
    {
        var cells = Skus[sku].Cells;
        if ((uint)location >= (uint)cells.Length || cells[location] is not { } cell)
        {
            return 0;
        }

        return cell.Free;
    }

    internal StockCell Cell(int sku, int location)
    {
        var entry = Skus[sku];
        var cells = entry.Cells;
        if ((uint)location >= (uint)cells.Length)
        {
            Array.Resize(ref entry.Cells, Math.Max(Locations.Count, location + 1));
            cells = entry.Cells;
        }

        return cells[location] ??= new StockCell(sku, location);
    }

    internal ChannelConfig Channel(string name)
    {
        if (!Channels.TryGetValue(name, out var config))
        {
            config = new ChannelConfig(name);
            Channels.Add(name, config);
        }

        return config;
    }

    /// <summary>The configuration of one shop of a channel (created on first use, inheriting everything).</summary>
    internal ChannelConfig Shop(string name, string shop)
    {
        var channel = Channel(name);
        channel.Shops ??= new Dictionary<string, ChannelConfig>(StringComparer.Ordinal);
        if (!channel.Shops.TryGetValue(shop, out var config))
        {
            config = new ChannelConfig(name, shop, channel);
            channel.Shops.Add(shop, config);
        }

        return config;
    }

    /// <summary>What routes an order: its shop's configuration when the shop has one, else its channel's.</summary>
    internal static ChannelConfig ConfigFor(Order order) =>
        order.ShopId is { } shop && order.Channel.Shops is { } shops && shops.TryGetValue(shop, out var config)
            ? config
            : order.Channel;

    /// <summary>Channel-wide configurations first, then their shops, each by ordinal name.</summary>
    internal static int CompareConfigs(ChannelConfig a, ChannelConfig b)
    {
        var c = string.CompareOrdinal(a.Name, b.Name);
        if (c != 0)
        {
            return c;
        }

        return a.Shop is null ? (b.Shop is null ? 0 : -1) : b.Shop is null ? 1 : string.CompareOrdinal(a.Shop, b.Shop);
    }

    internal void MarkConfigured(ChannelConfig config)
    {
        if (config.Configured)
        {
            return;
        }

        // A shop with its own settings implies its channel is configured too: the other shops sell under the
        // channel-wide settings and get their own availability figure.
        if (config.Parent is { } parent)
        {
            MarkConfigured(parent);
        }

        config.Configured = true;
        var i = 0;
        while (i < ConfiguredChannels.Count && CompareConfigs(ConfiguredChannels[i], config) < 0)
        {
            i++;
        }

        ConfiguredChannels.Insert(i, config);
    }

    /// <summary>Sellable units of a SKU for a channel: its eligible, active, non-FBA locations.</summary>
    internal int ChannelAvailable(ChannelConfig channel, int sku)
    {
        var total = 0;
        for (var l = 0; l < Locations.Count; l++)
        {
            if (channel.SellsFrom(Locations[l]))
            {
                total += Math.Max(0, Available(sku, l));
            }
        }

        return total;
    }

    internal int ChannelBundleAvailable(ChannelConfig channel, Component[] components)
    {
        var total = 0;
        for (var l = 0; l < Locations.Count; l++)
        {
            if (channel.SellsFrom(Locations[l]))
            {
                total += BundleUnitsAt(components, l);
            }
        }

        return total;
    }

    internal int BundleUnitsAt(Component[] components, int location)
    {
        var units = int.MaxValue;
        foreach (var c in components)
        {
            units = Math.Min(units, Math.Max(0, Available(c.Sku, location)) / c.Quantity);
        }

        return units == int.MaxValue ? 0 : units;
    }

    public StockLevel? GetLevel(string sku, string locationId)
    {
        if (!SkuIds.TryGetValue(sku, out var s) || !LocationIds.TryGetValue(locationId, out var l))
        {
            return null;
        }

        var cells = Skus[s].Cells;
        return (uint)l < (uint)cells.Length && cells[l] is { } c ? c.ToLevel() : null;
    }

    /// <summary>Every SKU × location cell, ordered by SKU then location (ordinal).</summary>
    public IReadOnlyList<(string Sku, string LocationId, StockLevel Level)> GetLevels()
    {
        var result = new List<(string, string, StockLevel)>();
        foreach (var sku in Skus)
        {
            foreach (var cell in sku.Cells)
            {
                if (cell is not null)
                {
                    result.Add((sku.Code, Locations[cell.Location].Id, cell.ToLevel()));
                }
            }
        }

        result.Sort(static (a, b) =>
        {
            var c = string.CompareOrdinal(a.Item1, b.Item1);
            return c != 0 ? c : string.CompareOrdinal(a.Item2, b.Item2);
        });
        return result;
    }

    /// <summary>Available-to-sell of a SKU on a channel, or on one shop of it (its own settings, else the channel's).</summary>
    public int GetChannelAvailable(string channel, string sku, string? shopId = null)
    {
        if (!SkuIds.TryGetValue(sku, out var s))
        {
            return 0;
        }

        var config = Channels.TryGetValue(channel, out var c) ? c : new ChannelConfig(channel);
        if (shopId is not null && config.Shops?.TryGetValue(shopId, out var shop) == true)
        {
            config = shop;
        }

        var bundle = Skus[s].Bundle;
        return bundle is null ? ChannelAvailable(config, s) : ChannelBundleAvailable(config, bundle);
    }

    public OrderView? GetOrder(string orderId)
    {
        if (!Orders.TryGetValue(orderId, out var order))
        {
            return null;
        }

        var lines = new OrderLineView[order.Lines.Length];
        for (var i = 0; i < lines.Length; i++)
        {
            var line = order.Lines[i];
            var allocations = new LineAllocation[line.Allocations.Count];
            for (var a = 0; a < allocations.Length; a++)
            {
                allocations[a] = new LineAllocation(line.LineId, line.Sku, Locations[line.Allocations[a].Location].Id, line.Allocations[a].Quantity);
            }

            var components = new SkuQuantity[line.Components.Length];
            for (var c = 0; c < components.Length; c++)
            {
                components[c] = new SkuQuantity(Skus[line.Components[c].Sku].Code, line.Components[c].Quantity);
            }

            lines[i] = new OrderLineView(line.LineId, line.Sku, line.Quantity, line.Shipped, line.Need, allocations, components);
        }

        return new OrderView(order.Id, order.Channel.Name, order.Mode, lines, order.ShopId);
    }

    public IReadOnlyList<string> GetOrderIds()
    {
        var ids = new List<string>(Orders.Keys);
        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    public int OrderCount => Orders.Count;

    /// <summary>Known location ids, in the order they were first seen.</summary>
    public IReadOnlyList<string> GetLocationIds()
    {
        var ids = new string[Locations.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = Locations[i].Id;
        }

        return ids;
    }
}

public sealed record StockLevel(int OnHand, int Allocated, int Reserved, int SafetyStock, int InTransit)
{
    public int Net => OnHand - Allocated - Reserved - SafetyStock;

    public int Available => Math.Max(0, Net);
}

public sealed record OrderLineView(
    string LineId,
    string Sku,
    int Quantity,
    int Shipped,
    int Backordered,
    IReadOnlyList<LineAllocation> Allocations,
    IReadOnlyList<SkuQuantity> Components);

public sealed record OrderView(string OrderId, string Channel, FulfillmentMode Mode, IReadOnlyList<OrderLineView> Lines, string? ShopId = null);

internal sealed class SkuEntry(string code, int id)
{
    public readonly string Code = code;
    public readonly int Id = id;
    public StockCell?[] Cells = [];
    /// <summary>Non-null when this SKU is a bundle: it has no stock of its own.</summary>
    public Component[]? Bundle;
    /// <summary>Bundles that use this SKU as a component, for bundle availability outputs.</summary>
    public List<int>? UsedInBundles;
    /// <summary>Orders with backordered demand for this SKU, FIFO by (priority desc, placed at, order id).</summary>
    public SortedSet<Order>? Waiting;
    private Component[]? _self;

    /// <summary>What one unit of this SKU consumes: its components, or itself.</summary>
    public Component[] Consumes => Bundle ?? (_self ??= [new Component(Id, 1)]);
}

internal sealed class StockCell(int sku, int location)
{
    public readonly int Sku = sku;
    public readonly int Location = location;
    public int OnHand;
    public int Allocated;
    public int Reserved;
    public int Safety;
    public int InTransit;
    public int TouchedAt = -1;

    /// <summary>Units free for new allocations; negative only under oversell or a safety stock above free stock.</summary>
    public int Free => OnHand - Allocated - Reserved - Safety;

    public StockLevel ToLevel() => new(OnHand, Allocated, Reserved, Safety, InTransit);
}

internal readonly record struct Component(int Sku, int Quantity);

internal sealed class LocationState(string id, int index)
{
    public readonly string Id = id;
    public readonly int Index = index;
    public LocationKind Kind;
    public bool Active;
    public string Country = "";
    public string? Region;
    public GeoPoint? Geo;
    public string[] CountriesServed = [];
    public string[] RegionsServed = [];
    public int? MaxOrderWeightGrams;
    public int Priority;
    public string? Address;

    public bool Serves(ShipTo to)
    {
        if (CountriesServed.Length > 0 && Array.IndexOf(CountriesServed, to.Country) < 0)
        {
            return false;
        }

        return RegionsServed.Length == 0 || (to.Region is not null && Array.IndexOf(RegionsServed, to.Region) >= 0);
    }
}

/// <summary>
/// A channel's routing: the ordered rule chain, split policy, preference ranking, locations excluded by rule and
/// whether an order must be served whole by one location. Immutable; replaced as a whole by SetRoutingRules.
/// </summary>
internal sealed class RoutingSettings(RoutingRule[] chain, bool? allowSplit, int[]? ranking, bool[]? excluded, bool requireFull)
{
    internal static readonly RoutingRule[] DefaultChain =
        [RoutingRule.MinimiseSplits, RoutingRule.ChannelRanking, RoutingRule.Proximity, RoutingRule.StockBalance];

    public static readonly RoutingSettings Default = new(DefaultChain, null, null, null, false);

    public readonly RoutingRule[] Chain = chain;
    /// <summary>Null = the pool's default (<see cref="PoolState.AllowSplit"/>).</summary>
    public readonly bool? AllowSplit = allowSplit;
    /// <summary>Rank per location index (0 = most preferred); null = rank by location priority.</summary>
    public readonly int[]? Ranking = ranking;
    /// <summary>Per location index: never allocated to and not counted in available-to-sell. Null = none.</summary>
    public readonly bool[]? Excluded = excluded;
    /// <summary>Only a location that can ship the whole order is eligible; otherwise the order waits whole.</summary>
    public readonly bool RequireFull = requireFull;

    public bool IsExcluded(int location) => Excluded is not null && location < Excluded.Length && Excluded[location];
}

/// <summary>
/// Configuration of a channel (<see cref="Shop"/> null: every shop of it) or of one shop of a channel. A shop's
/// configuration overrides the channel's per aspect: its own location mapping if one was set, its own routing if
/// one was set; otherwise it inherits the channel's, as it is now.
/// </summary>
internal sealed class ChannelConfig(string name, string? shop = null, ChannelConfig? parent = null)
{
    public readonly string Name = name;
    public readonly string? Shop = shop;
    public readonly ChannelConfig? Parent = parent;
    public bool Configured;
    /// <summary>Shops with their own configuration (channel-wide configs only), by shop id.</summary>
    public Dictionary<string, ChannelConfig>? Shops;
    /// <summary>Shops only: whether the shop has a mapping of its own (else it inherits the channel's).</summary>
    public bool OwnMapping;
    private bool[]? _mapped;
    /// <summary>Null: the channel's routing (shops) or the default (channels).</summary>
    public RoutingSettings? OwnRouting;
    /// <summary>Command in which the channel's sellable locations changed: its availability is reported for every touched cell.</summary>
    public int ChangedAt = -1;

    /// <summary>Null = every location may serve the channel.</summary>
    public bool[]? Mapped
    {
        get => Parent is null || OwnMapping ? _mapped : Parent.Mapped;
        set => _mapped = value;
    }

    public RoutingSettings Routing => OwnRouting ?? Parent?.Routing ?? RoutingSettings.Default;

    public bool IsMapped(int location)
    {
        var mapped = Mapped;
        return mapped is null || (location < mapped.Length && mapped[location]);
    }

    /// <summary>Mapped to the channel and not excluded by its routing rules.</summary>
    public bool Serves(int location) => IsMapped(location) && !Routing.IsExcluded(location);

    public bool SellsFrom(LocationState location) =>
        location.Active && location.Kind != LocationKind.AmazonFba && Serves(location.Index);

    public int RankOf(LocationState location)
    {
        var ranking = Routing.Ranking;
        if (ranking is null)
        {
            return location.Priority;
        }

        return location.Index < ranking.Length ? ranking[location.Index] : int.MaxValue;
    }
}

internal struct LocQty(int location, int quantity)
{
    public int Location = location;
    public int Quantity = quantity;
}

internal sealed class OrderLine(string lineId, int skuId, string sku, int quantity, int weightGrams, Component[] components)
{
    public readonly string LineId = lineId;
    public readonly int SkuId = skuId;
    public readonly string Sku = sku;
    public int Quantity = quantity;
    public readonly int WeightGrams = weightGrams;
    /// <summary>Captured at order time so a later bundle redefinition cannot change what this line holds.</summary>
    public readonly Component[] Components = components;
    public int Shipped;
    public int AllocatedTotal;
    public readonly List<LocQty> Allocations = new(1);

    public int Need => Quantity - Shipped - AllocatedTotal;

    public int AllocatedAt(int location)
    {
        for (var i = 0; i < Allocations.Count; i++)
        {
            if (Allocations[i].Location == location)
            {
                return Allocations[i].Quantity;
            }
        }

        return 0;
    }
}

internal sealed class Order(string id, ChannelConfig channel, FulfillmentMode mode, int priority, DateTimeOffset placedAt, string? shopId = null)
{
    public readonly string Id = id;
    /// <summary>The channel-wide configuration; <see cref="PoolState.ConfigFor"/> resolves the shop's at decision time.</summary>
    public readonly ChannelConfig Channel = channel;
    public readonly string? ShopId = shopId;
    public readonly FulfillmentMode Mode = mode;
    public readonly int Priority = priority;
    public readonly DateTimeOffset PlacedAt = placedAt;
    public ShipTo ShipTo = new("");
    public OrderLine[] Lines = [];
    public HashSet<string>? Shipments;
    /// <summary>SKUs whose waiting sets hold this order.</summary>
    public List<int>? WaitingOn;

    public int TotalNeed()
    {
        var n = 0;
        foreach (var line in Lines)
        {
            n += line.Need;
        }

        return n;
    }

    public bool Uses(int location)
    {
        foreach (var line in Lines)
        {
            if (line.AllocatedAt(location) > 0)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Backorder FIFO: higher priority first, then earlier placed, then order id.</summary>
internal sealed class BackorderOrder : IComparer<Order>
{
    public static readonly BackorderOrder Instance = new();

    public int Compare(Order? x, Order? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var c = y.Priority.CompareTo(x.Priority);
        if (c != 0)
        {
            return c;
        }

        c = x.PlacedAt.CompareTo(y.PlacedAt);
        return c != 0 ? c : string.CompareOrdinal(x.Id, y.Id);
    }
}

internal sealed class TransferLine(int sku, int requested)
{
    public readonly int Sku = sku;
    public readonly int Requested = requested;
    public int Reserved = requested;
    public int Shipped;
    public int Received;
}

internal sealed class Transfer(string id, int from, int to, TransferLine[] lines)
{
    public readonly string Id = id;
    public readonly int From = from;
    public readonly int To = to;
    public readonly TransferLine[] Lines = lines;
    public TransferStatus Status = TransferStatus.Requested;
}
