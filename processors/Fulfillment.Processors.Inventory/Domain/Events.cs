namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>Decisions and facts the decider emits. The runtime adds ids, pool and tracing metadata.</summary>
public abstract record InventoryEvent;

/// <summary>One booked change of on-hand stock. Per SKU × location these always sum to on hand.</summary>
public sealed record StockMoved(
    string Sku,
    string LocationId,
    MovementKind Kind,
    int Delta,
    int OnHandAfter,
    string Reference,
    string? ReasonCode,
    DateTimeOffset At) : InventoryEvent;

/// <summary>Available-to-sell on a channel: every shop of it (<paramref name="ShopId"/> null) or one shop with its own settings.</summary>
public sealed record ChannelAvailability(string Channel, int Available, string? ShopId = null);

/// <summary>
/// The level of one SKU at one location after a command. Available is what may be sold (never below zero);
/// Net = on hand − allocated − reserved − safety stock and goes negative only by oversell or a raised safety stock.
/// ChannelAvailable is the SKU's available-to-sell summed over each channel's eligible locations.
/// </summary>
public sealed record StockLevelChanged(
    string Sku,
    string LocationId,
    int OnHand,
    int Allocated,
    int Reserved,
    int SafetyStock,
    int InTransit,
    int Available,
    int Net,
    IReadOnlyList<ChannelAvailability> ChannelAvailable) : InventoryEvent;

/// <summary>Sellable bundles per channel after one of its components changed.</summary>
public sealed record BundleAvailabilityChanged(string BundleSku, IReadOnlyList<ChannelAvailability> ChannelAvailable) : InventoryEvent;

public sealed record LineAllocation(string LineId, string Sku, string LocationId, int Quantity);

public sealed record LineBackorder(string LineId, string Sku, int Quantity);

/// <summary>The order's complete allocation after a decision, with the rule trail that explains it.</summary>
public sealed record AllocationDecided(
    string OrderId,
    string Channel,
    IReadOnlyList<LineAllocation> Allocations,
    IReadOnlyList<LineBackorder> Backordered,
    IReadOnlyList<string> RuleTrail) : InventoryEvent;

public sealed record OrderBackordered(string OrderId, IReadOnlyList<LineBackorder> Lines, string Reason) : InventoryEvent;

public enum ReleaseCause
{
    OrderCancelled,
    OrderUpdated,
    StockLost,
}

public sealed record AllocationReleased(string OrderId, IReadOnlyList<LineAllocation> Lines, string Reason, ReleaseCause Cause) : InventoryEvent;

public sealed record ShipmentRecorded(string OrderId, string ShipmentId, string LocationId, IReadOnlyList<LineAllocation> Lines) : InventoryEvent;

public sealed record TransferUpdated(
    string TransferId,
    string FromLocationId,
    string ToLocationId,
    TransferStatus Status,
    IReadOnlyList<TransferLineState> Lines) : InventoryEvent;

public sealed record TransferLineState(string Sku, int Requested, int Reserved, int Shipped, int Received);

/// <summary>Our ledger and a 3PL's snapshot disagreed; the snapshot wins and the delta is booked.</summary>
public sealed record DriftDetected(string LocationId, string Sku, int Expected, int Reported, int Delta) : InventoryEvent;

/// <summary>Invalid input: never thrown, never silently dropped.</summary>
public sealed record CommandRejected(string Command, string Reference, string Reason) : InventoryEvent;
