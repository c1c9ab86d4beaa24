namespace Fulfillment.Demo;

/// <summary>One order line as the channel knows it. <see cref="LineId"/> is the channel's line id, which the hub keeps
/// as its line id (ship confirmations name it).</summary>
public sealed record DemoLine(string LineId, string Sku, int Quantity, decimal Price, string VariantId);

/// <summary>Where the order goes.</summary>
public sealed record ShipTo(
    string FirstName, string LastName, string Line1, string City, string Region, string PostalCode, string CountryCode,
    double Latitude, double Longitude);

/// <summary>An order the demo invented for one shop; every channel's payload is rendered from it.</summary>
public sealed record DemoOrder(
    DemoShop Shop, long Number, DateTime CreatedAt, IReadOnlyList<DemoLine> Lines, ShipTo ShipTo, string ShippingTitle)
{
    /// <summary>The channel's order id, in the channel's own format.</summary>
    public string ChannelOrderId => Shop.Channel switch
    {
        // 3-7-7 digits, like 113-5591204-8832134.
        ChannelKind.Amazon => $"{100 + (Number / 100_000_000_000_000L % 900):D3}-{Number / 10_000_000L % 10_000_000:D7}-{Number % 10_000_000:D7}",
        ChannelKind.TikTokShop => $"57{Number:D16}",
        // eBay's dashed shape (12-34567-89012), widened so every demo order number stays distinct.
        ChannelKind.Ebay => $"{Number / 10_000_000_000L % 100_000:D5}-{Number / 100_000 % 100_000:D5}-{Number % 100_000:D5}",
        _ => Number.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public string HubOrderId => Shop.HubOrderId(ChannelOrderId);

    /// <summary>Lines as the hub sees them: TikTok Shop sends one line item per unit.</summary>
    public IEnumerable<DemoLine> HubLines => Shop.Channel == ChannelKind.TikTokShop
        ? Lines.SelectMany(l => Enumerable.Range(0, l.Quantity).Select(u => l with { LineId = $"{l.LineId}{u}", Quantity = 1 }))
        : Lines;
}

/// <summary>
/// Invents orders: a SKU catalog with a few best sellers (Zipf-like), 1–3 lines of 1–3 units, US and EU addresses,
/// standard and expedited shipping. Order numbers start at a base derived from the start time, so two runs against the
/// same stack never reuse an order id (a reused id would be an update of the earlier order, not a new one).
/// </summary>
public sealed class OrderGenerator
{
    private static readonly (string City, string Region, string Zip, string Country, double Lat, double Lon)[] Places =
    [
        ("Seattle", "WA", "98101", "US", 47.61, -122.33), ("Portland", "OR", "97205", "US", 45.52, -122.68),
        ("Denver", "CO", "80202", "US", 39.74, -104.99), ("Austin", "TX", "78701", "US", 30.27, -97.74),
        ("Chicago", "IL", "60601", "US", 41.88, -87.63), ("Boston", "MA", "02108", "US", 42.36, -71.06),
        ("Brooklyn", "NY", "11201", "US", 40.69, -73.99), ("Atlanta", "GA", "30303", "US", 33.75, -84.39),
        ("Toronto", "ON", "M5H 2N2", "CA", 43.65, -79.38), ("Berlin", "BE", "10115", "DE", 52.53, 13.38),
        ("Munich", "BY", "80331", "DE", 48.14, 11.58), ("Amsterdam", "NH", "1012", "NL", 52.37, 4.90),
        ("Lyon", "ARA", "69002", "FR", 45.76, 4.83),
    ];

    private static readonly string[] FirstNames = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Alan", "Radia"];
    private static readonly string[] LastNames = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Kay", "Perlman"];
    private static readonly string[] Shipping = ["Standard Shipping", "Standard Shipping", "Standard Shipping", "Expedited 2 Day", "Economy Saver"];

    private readonly Random _random;
    private readonly IReadOnlyList<DemoShop> _shops;
    private readonly double[] _shopWeights;
    private long _next;

    /// <param name="shops">Shops to invent orders for (eBay ones only when the channel API stub serves them to the
    /// connector's eBay poller: eBay has no order webhooks).</param>
    /// <param name="seed">Random seed (reproducible runs).</param>
    /// <param name="numberBase">First order number; <see cref="NumberBaseFor"/> gives one unique per start time.</param>
    /// <param name="includePolled">Also invent orders for eBay shops (the caller serves them for the poller).</param>
    public OrderGenerator(IEnumerable<DemoShop> shops, int seed, long numberBase, bool includePolled = false)
    {
        _shops = [.. shops.Where(s => includePolled || s.Channel != ChannelKind.Ebay)];
        if (_shops.All(s => s.Channel == ChannelKind.Ebay))
        {
            throw new InvalidOperationException("No webhook shop configured (Channels:Shops): nothing to send orders as.");
        }

        // Roughly the mix of a multi-channel merchant: Shopify first, then Amazon, WooCommerce, TikTok Shop, eBay.
        _shopWeights = [.. _shops.Select(s => s.Channel switch
        {
            ChannelKind.Shopify => 4.0,
            ChannelKind.Amazon => 2.5,
            ChannelKind.WooCommerce => 2.0,
            ChannelKind.Ebay => 1.0,
            _ => 1.5,
        })];
        _random = new Random(seed);
        _next = numberBase;
    }

    /// <summary>SKUs the demo stocks and sells.</summary>
    public static IReadOnlyList<string> Skus { get; } = BuildSkus();

    /// <summary>A base for order numbers unique per second of start time (10 million orders per run fit below the next).</summary>
    public static long NumberBaseFor(DateTime start) => (new DateTimeOffset(start).ToUnixTimeSeconds() % 100_000_000L) * 10_000_000L;

    public IReadOnlyList<DemoShop> Shops => _shops;

    public DemoOrder Next(DateTime now)
    {
        var shop = PickShop();
        var number = Interlocked.Increment(ref _next);
        var place = Places[_random.Next(Places.Length)];
        var lineCount = 1 + (_random.NextDouble() < 0.6 ? 0 : _random.Next(1, 3));
        var lines = new List<DemoLine>(lineCount);
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lineCount; i++)
        {
            var sku = PickSku();
            if (!used.Add(sku))
            {
                continue;
            }

            var skuIndex = int.Parse(sku.AsSpan(sku.LastIndexOf('-') + 1), System.Globalization.CultureInfo.InvariantCulture);
            lines.Add(new DemoLine(
                LineId: $"{number % 1_000_000_000L}{i + 1:D2}",
                Sku: sku,
                Quantity: 1 + (_random.NextDouble() < 0.75 ? 0 : _random.Next(1, 3)),
                Price: 4.99m + (skuIndex % 40 * 2.5m),
                VariantId: (40_000_000_000L + skuIndex).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var ship = new ShipTo(FirstNames[_random.Next(FirstNames.Length)], LastNames[_random.Next(LastNames.Length)],
            $"{_random.Next(1, 999)} Market Street", place.City, place.Region, place.Zip, place.Country, place.Lat, place.Lon);
        return new DemoOrder(shop, number, now, lines, ship, Shipping[_random.Next(Shipping.Length)]);
    }

    /// <summary>A uniform draw in [0, 1) from the generator's random source (callers share its seed).</summary>
    public double NextDouble() => _random.NextDouble();

    public int NextInt(int maxExclusive) => _random.Next(maxExclusive);

    private DemoShop PickShop()
    {
        var total = _shopWeights.Sum();
        var x = _random.NextDouble() * total;
        for (var i = 0; i < _shops.Count; i++)
        {
            x -= _shopWeights[i];
            if (x < 0)
            {
                return _shops[i];
            }
        }

        return _shops[^1];
    }

    private string PickSku()
    {
        // Zipf-like: a handful of best sellers take a large share, a long tail the rest.
        var u = _random.NextDouble();
        var index = (int)(Math.Pow(u, 2.2) * Skus.Count);
        return Skus[Math.Min(index, Skus.Count - 1)];
    }

    private static string[] BuildSkus()
    {
        string[] families = ["TENT", "STOVE", "MUG", "BOOT", "JACKET", "PACK", "LAMP", "BOTTLE"];
        return [.. Enumerable.Range(0, 160).Select(i => $"{families[i % families.Length]}-{i:D3}")];
    }
}
