using System.Text.Json;
using System.Text.Json.Serialization;
using Fulfillment.Processors.Inventory.Domain;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

/// <summary>Feeds commands to one pool with a ticking clock and keeps every output.</summary>
internal sealed class PoolHarness(InventoryDecider? decider = null)
{
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>The pool; replaceable so tests can swap in a state restored from a snapshot mid-run.</summary>
    public PoolState State { get; set; } = new();

    public InventoryDecider Decider { get; } = decider ?? new();

    public List<InventoryEvent> Events { get; } = [];

    public DateTimeOffset Now { get; private set; } = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);

    public IReadOnlyList<InventoryEvent> Do(InventoryCommand command)
    {
        var events = Decider.Decide(State, command, Now);
        Events.AddRange(events);
        Now = Now.AddSeconds(1);
        return events;
    }

    public PoolHarness With(params InventoryCommand[] commands)
    {
        foreach (var c in commands)
        {
            var events = Do(c);
            events.OfType<CommandRejected>().ShouldBeEmpty($"setup command {c} was rejected");
        }

        return this;
    }

    public static string Serialize(IEnumerable<InventoryEvent> events) =>
        string.Join('\n', events.Select(e => e.GetType().Name + JsonSerializer.Serialize(e, e.GetType(), Json)));

    public static UpsertLocation Site(
        string id,
        string country,
        GeoPoint? geo = null,
        LocationKind kind = LocationKind.Warehouse,
        string[]? serves = null,
        int priority = 0,
        bool active = true,
        int? maxWeightGrams = null,
        string? region = null) =>
        new(id, kind, active, country, region, geo, serves ?? [], [], maxWeightGrams, priority);

    public static PlaceOrder Order(
        string id,
        ShipTo to,
        params OrderLineRequest[] lines) => Order(id, to, "web", FulfillmentMode.Merchant, 0, null, lines);

    public static PlaceOrder Order(
        string id,
        ShipTo to,
        string channel,
        FulfillmentMode mode,
        int priority,
        DateTimeOffset? placedAt,
        params OrderLineRequest[] lines) =>
        new(id, channel, mode, priority, placedAt ?? new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), to, lines);

    public static OrderLineRequest Line(string lineId, string sku, int quantity) => new(lineId, sku, quantity);

    public static ReceiveStock Receive(string sku, string location, int quantity) => new(sku, location, quantity, "PO-1");

    public static readonly GeoPoint NewYork = new(40.7128, -74.0060);
    public static readonly GeoPoint LosAngeles = new(34.0522, -118.2437);
    public static readonly GeoPoint Chicago = new(41.8781, -87.6298);
    public static readonly GeoPoint Boston = new(42.3601, -71.0589);
    public static readonly GeoPoint Berlin = new(52.52, 13.405);
}
