using System.Text.Json.Serialization;

namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>Everything that can change a pool: operator commands, stock movements and order events.</summary>
/// <remarks>Polymorphic JSON so the topology can keep a pool's command log (its durable state) in a store.</remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$kind")]
[JsonDerivedType(typeof(ConfigurePool), nameof(ConfigurePool))]
[JsonDerivedType(typeof(UpsertLocation), nameof(UpsertLocation))]
[JsonDerivedType(typeof(DeactivateLocation), nameof(DeactivateLocation))]
[JsonDerivedType(typeof(SetChannelLocations), nameof(SetChannelLocations))]
[JsonDerivedType(typeof(SetRoutingRules), nameof(SetRoutingRules))]
[JsonDerivedType(typeof(DefineBundle), nameof(DefineBundle))]
[JsonDerivedType(typeof(RemoveBundle), nameof(RemoveBundle))]
[JsonDerivedType(typeof(SetSafetyStock), nameof(SetSafetyStock))]
[JsonDerivedType(typeof(ReceiveStock), nameof(ReceiveStock))]
[JsonDerivedType(typeof(AdjustStock), nameof(AdjustStock))]
[JsonDerivedType(typeof(CountStock), nameof(CountStock))]
[JsonDerivedType(typeof(RequestTransfer), nameof(RequestTransfer))]
[JsonDerivedType(typeof(ShipTransfer), nameof(ShipTransfer))]
[JsonDerivedType(typeof(ReceiveTransfer), nameof(ReceiveTransfer))]
[JsonDerivedType(typeof(CancelTransfer), nameof(CancelTransfer))]
[JsonDerivedType(typeof(ReconcileSnapshot), nameof(ReconcileSnapshot))]
[JsonDerivedType(typeof(PlaceOrder), nameof(PlaceOrder))]
[JsonDerivedType(typeof(UpdateOrder), nameof(UpdateOrder))]
[JsonDerivedType(typeof(CancelOrder), nameof(CancelOrder))]
[JsonDerivedType(typeof(ConfirmShipment), nameof(ConfirmShipment))]
[JsonDerivedType(typeof(RestockReturn), nameof(RestockReturn))]
public abstract record InventoryCommand;

/// <summary>
/// Pool-wide settings, replaced as a whole. Oversell is off unless a pool explicitly turns it on. AllowSplit is the
/// split policy of channels whose routing rules do not set one.
/// </summary>
public sealed record ConfigurePool(
    bool AllowOversell,
    bool AllowSplit = true,
    BackorderPolicy Backorders = BackorderPolicy.AllocateAvailable) : InventoryCommand;

public sealed record UpsertLocation(
    string LocationId,
    LocationKind Kind,
    bool Active,
    string Country,
    string? Region,
    GeoPoint? Geo,
    IReadOnlyList<string> CountriesServed,
    IReadOnlyList<string> RegionsServed,
    int? MaxOrderWeightGrams,
    int Priority,
    string? Address = null) : InventoryCommand;

public sealed record DeactivateLocation(string LocationId) : InventoryCommand;

/// <summary>
/// Which locations may serve a channel, or one shop of it (<paramref name="ShopId"/>; its mapping overrides the
/// channel's). Null removes the mapping: a channel may use every location again, like a channel never mapped; a shop
/// inherits its channel's mapping again. An empty list means none.
/// </summary>
public sealed record SetChannelLocations(string Channel, IReadOnlyList<string>? LocationIds, string? ShopId = null) : InventoryCommand;

/// <summary>
/// The routing of one channel, or of one shop of it (<paramref name="ShopId"/>; replaces the channel's routing for
/// that shop): the ordered rule chain, split policy, location ranking, locations the rules exclude (never allocated
/// to, not counted in the channel's available-to-sell) and whether only a location that can ship the whole order
/// may take it (no split, no partial allocation: otherwise the order is backordered whole).
/// </summary>
public sealed record SetRoutingRules(
    string Channel,
    IReadOnlyList<RoutingRule> Chain,
    bool AllowSplit,
    IReadOnlyList<string> LocationRanking,
    IReadOnlyList<string>? ExcludedLocations = null,
    bool RequireFullAvailability = false,
    string? ShopId = null) : InventoryCommand;

/// <summary>Creates or replaces a bundle. Open orders keep the components their lines were placed with.</summary>
public sealed record DefineBundle(string BundleSku, IReadOnlyList<SkuQuantity> Components) : InventoryCommand;

/// <summary>The SKU stops being a bundle; open orders keep the components their lines were placed with.</summary>
public sealed record RemoveBundle(string BundleSku) : InventoryCommand;

public sealed record SetSafetyStock(string Sku, string LocationId, int Quantity) : InventoryCommand;

public sealed record ReceiveStock(string Sku, string LocationId, int Quantity, string Reference) : InventoryCommand;

public sealed record AdjustStock(string Sku, string LocationId, int Delta, string ReasonCode) : InventoryCommand;

/// <summary>An absolute count; the decider books the difference as a movement.</summary>
public sealed record CountStock(string Sku, string LocationId, int CountedQuantity) : InventoryCommand;

public sealed record RequestTransfer(
    string TransferId,
    string FromLocationId,
    string ToLocationId,
    IReadOnlyList<SkuQuantity> Lines) : InventoryCommand;

/// <summary>Quantities actually shipped; each at most what was requested. Unlisted lines ship zero.</summary>
public sealed record ShipTransfer(string TransferId, IReadOnlyList<SkuQuantity> Lines) : InventoryCommand;

/// <summary>Quantities actually received; short and over receipts are booked as discrepancy movements.</summary>
public sealed record ReceiveTransfer(string TransferId, IReadOnlyList<SkuQuantity> Lines) : InventoryCommand;

public sealed record CancelTransfer(string TransferId) : InventoryCommand;

/// <summary>A 3PL's view of its stock. Complete = SKUs not listed are zero there.</summary>
public sealed record ReconcileSnapshot(string LocationId, IReadOnlyList<SkuQuantity> Quantities, bool Complete) : InventoryCommand;

public sealed record PlaceOrder(
    string OrderId,
    string Channel,
    FulfillmentMode Mode,
    int Priority,
    DateTimeOffset PlacedAt,
    ShipTo ShipTo,
    IReadOnlyList<OrderLineRequest> Lines,
    string? ShopId = null) : InventoryCommand;

/// <summary>The order's lines as they are now (full replacement); quantity 0 removes a line.</summary>
public sealed record UpdateOrder(string OrderId, ShipTo ShipTo, IReadOnlyList<OrderLineRequest> Lines) : InventoryCommand;

public sealed record CancelOrder(string OrderId, string Reason) : InventoryCommand;

/// <summary>Shipment confirmation; must come from the location the lines are allocated at.</summary>
public sealed record ConfirmShipment(
    string OrderId,
    string ShipmentId,
    string LocationId,
    IReadOnlyList<ShippedLine> Lines) : InventoryCommand;

public sealed record RestockReturn(string ReturnId, string Sku, string LocationId, int Quantity) : InventoryCommand;
