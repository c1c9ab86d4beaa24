namespace Fulfillment.Sinks.Views.Projection;

/// <summary>
/// The rows one poll batch adds or changes, already reduced the way the database reduces them (latest version wins,
/// facts keyed by event id are kept once), so a batch writes each key at most once per table. Filled by
/// <see cref="Projector"/>, written by <see cref="ViewWriter"/>: the view rows with <see cref="NextOffsets"/> in one
/// transaction, the audit index (<see cref="Events"/>) in the audit track's.
/// </summary>
public sealed class ViewBatch
{
    public Dictionary<string, EventRow> Events { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, OrderRow> Orders { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, CancelRow> Cancels { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, AllocationDecisionRow> AllocationDecisions { get; } = new(StringComparer.Ordinal);

    public Dictionary<(string EventId, string LineId, string LocationId), ReleaseRow> Releases { get; } = [];

    public Dictionary<(string OrderId, string LineId), BackorderRow> Backorders { get; } = [];

    public Dictionary<string, ShipmentRow> Shipments { get; } = new(StringComparer.Ordinal);

    public Dictionary<(string Carrier, string TrackingNumber), TrackingRow> Tracking { get; } = [];

    public Dictionary<string, PushAttemptRow> PushAttempts { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, PushAttemptRow> Pushes { get; } = new(StringComparer.Ordinal);

    public Dictionary<(string Pool, string Sku, string Location), StockLevelRow> StockLevels { get; } = [];

    public Dictionary<string, DriftRow> Drift { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, TransferRow> TransfersRequested { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, TransferRow> TransfersShipped { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, TransferRow> TransfersReceived { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, DeadLetterRow> DeadLetters { get; } = new(StringComparer.Ordinal);

    public Dictionary<(string Pool, string Location), LocationRow> Locations { get; } = [];

    public Dictionary<(string Pool, string Channel, string Shop), RoutingRow> Routing { get; } = [];

    public Dictionary<(string Pool, string Sku, string Location), SafetyStockRow> SafetyStock { get; } = [];

    public Dictionary<(string Pool, string BundleSku), BundleRow> Bundles { get; } = [];

    public Dictionary<(string Pool, string Channel, string Shop), ChannelLocationsRow> ChannelLocations { get; } = [];

    public Dictionary<string, PoolSettingsRow> PoolSettings { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, MovementRow> Movements { get; } = new(StringComparer.Ordinal);

    public Dictionary<(string Topic, int Partition, long Offset), RejectRow> Rejects { get; } = [];

    public Dictionary<(string Topic, string EventId), ArchiveRow> Archive { get; } = [];

    /// <summary>Orders whose status or sync state may have changed.</summary>
    public HashSet<string> TouchedOrders { get; } = new(StringComparer.Ordinal);

    /// <summary>Next offset to read per (topic, partition): what the transaction records as consumed.</summary>
    public Dictionary<(string Topic, int Partition), long> NextOffsets { get; } = [];

    /// <summary>Records in the batch (including rejected ones).</summary>
    public int RecordCount { get; set; }

    /// <summary>Whether <see cref="Projector"/> adds audit index rows (<see cref="Events"/>); off while re-reading records
    /// the audit track already holds.</summary>
    public bool IndexEvents { get; set; } = true;

    public void Clear()
    {
        Events.Clear();
        Orders.Clear();
        Cancels.Clear();
        AllocationDecisions.Clear();
        Releases.Clear();
        Backorders.Clear();
        Shipments.Clear();
        Tracking.Clear();
        PushAttempts.Clear();
        Pushes.Clear();
        StockLevels.Clear();
        Drift.Clear();
        TransfersRequested.Clear();
        TransfersShipped.Clear();
        TransfersReceived.Clear();
        DeadLetters.Clear();
        Locations.Clear();
        Routing.Clear();
        SafetyStock.Clear();
        Bundles.Clear();
        ChannelLocations.Clear();
        PoolSettings.Clear();
        Movements.Clear();
        Rejects.Clear();
        Archive.Clear();
        TouchedOrders.Clear();
        NextOffsets.Clear();
        RecordCount = 0;
        IndexEvents = true;
    }

    /// <summary>Keeps the row with the greater version in <paramref name="map"/>.</summary>
    public static void KeepLatest<TKey, TRow>(Dictionary<TKey, TRow> map, TKey key, TRow row, Func<TRow, TRow, bool> isNewer)
        where TKey : notnull
    {
        if (!map.TryGetValue(key, out var existing) || isNewer(row, existing))
        {
            map[key] = row;
        }
    }

    /// <summary>Keeps the first row seen for <paramref name="key"/> (immutable facts).</summary>
    public static void KeepFirst<TKey, TRow>(Dictionary<TKey, TRow> map, TKey key, TRow row)
        where TKey : notnull => map.TryAdd(key, row);
}

/// <summary>(time, event id) order used for "latest wins": independent of arrival order, so duplicates and
/// out-of-order deliveries converge on the same row.</summary>
public static class Versions
{
    public static bool Newer(DateTime at, string eventId, DateTime otherAt, string otherEventId) =>
        at > otherAt || (at == otherAt && string.CompareOrdinal(eventId, otherEventId) > 0);
}

public sealed record EventRow(
    string EventId, string Topic, string Kind, string PoolId, string CorrelationId, string CausationId,
    string SourceSystem, string SourceId, DateTime OccurredAt, DateTime RecordedAt, string SummaryJson);

public sealed record OrderLineRow(string LineId, string Sku, int Quantity, decimal? UnitPrice);

public sealed record OrderRow(
    string OrderId, string PoolId, string Channel, string ShopId, string ChannelOrderId, string? OrderNumber,
    string? ChannelStatus, string FulfillmentChannel, string ServiceLevel, string? Currency, string? ShipCountry,
    int Priority, DateTime PlacedAt, DateTime? LatestShipAt, DateTime VersionAt, string VersionEventId,
    IReadOnlyList<OrderLineRow> Lines);

public sealed record CancelRow(
    string OrderId, string PoolId, string Channel, string ShopId, string ChannelOrderId, DateTime CancelledAt,
    string? Reason, string EventId);

public sealed record AllocationLineRow(string LineId, string Sku, string LocationId, int Quantity);

/// <summary>An allocation's complete state after one decision; the newest (<see cref="Newer"/>) replaces the others.</summary>
public sealed record AllocationDecisionRow(
    string AllocationId, string OrderId, string PoolId, IReadOnlyList<string> RuleTrail, DateTime DecidedAt, string EventId,
    IReadOnlyList<AllocationLineRow> Lines, DateTime RecordedAt, int SrcPartition, long SrcOffset)
{
    /// <summary>The processor's order: its stream time, then the position of its output on the pool's partition.</summary>
    public static bool Newer(AllocationDecisionRow n, AllocationDecisionRow o) =>
        n.RecordedAt > o.RecordedAt || (n.RecordedAt == o.RecordedAt && n.SrcOffset > o.SrcOffset);
}

public sealed record ReleaseRow(
    string EventId, string LineId, string LocationId, string AllocationId, string OrderId, string Sku, int Quantity,
    string Reason, DateTime ReleasedAt, DateTime RecordedAt, int SrcPartition, long SrcOffset);

public sealed record BackorderRow(
    string OrderId, string LineId, string PoolId, string Sku, int Quantity, string? Reason, IReadOnlyList<string> RuleTrail,
    DateTime VersionAt, string VersionEventId, DateTime FirstBackorderedAt);

public sealed record ShipmentLineRow(string LineId, string Sku, int Quantity);

public sealed record ShipmentRow(
    string ShipmentId, string OrderId, string PoolId, string Channel, string ShopId, string ChannelOrderId, string LocationId,
    string Carrier, string? Service, string? TrackingNumber, string? TrackingUrl, DateTime ShippedAt, string VersionEventId,
    IReadOnlyList<ShipmentLineRow> Lines);

public sealed record TrackingRow(
    string Carrier, string TrackingNumber, string Status, string RawStatus, string? StatusDetail, string? ShipmentId,
    string? OrderId, DateTime? EstimatedDeliveryAt, DateTime StatusAt, string VersionEventId);

public sealed record PushAttemptRow(
    string EventId, string PushId, string PoolId, string CorrelationId, string Channel, string ShopId, string Operation,
    string TargetId, int Attempt, string Outcome, int? HttpStatus, string? Error, DateTime? NextAttemptAt, DateTime AttemptedAt);

/// <summary>One cell's level after a processor pass; the newest in the processor's order (<see cref="Newer"/>) wins.</summary>
public sealed record StockLevelRow(
    string PoolId, string Sku, string LocationId, int OnHand, int Allocated, int SafetyStock, int Available, int InTransit,
    string ChannelAvailableJson, DateTime ChangedAt, string EventId, int SrcPartition, long SrcOffset, DateTime RecordedAt)
{
    /// <summary>Stream time, then the position on the pool's partition (several changes of one cell in one pass share
    /// a stream time).</summary>
    public static bool Newer(StockLevelRow n, StockLevelRow o) =>
        n.RecordedAt > o.RecordedAt || (n.RecordedAt == o.RecordedAt && n.SrcOffset > o.SrcOffset);
}

public sealed record DriftRow(
    string EventId, string PoolId, string Sku, string LocationId, int ExpectedOnHand, int ReportedOnHand, int Drift,
    string DetectedBy, DateTime DetectedAt);

/// <summary>One transfer event's contribution; which columns it owns depends on the stage (requested, shipped, received).</summary>
public sealed record TransferRow(
    string TransferId, string PoolId, string FromLocationId, string ToLocationId, DateTime At, string EventId,
    string? Carrier, string? TrackingNumber, IReadOnlyList<(string Sku, int Quantity)> Lines);

public sealed record DeadLetterRow(
    string EventId, string PoolId, string CorrelationId, string SourceTopic, int SourcePartition, long SourceOffset,
    string Reason, string ErrorType, string? ConsumerGroup, DateTime FailedAt);

public sealed record LocationRow(
    string PoolId, string LocationId, string Name, string Kind, bool Active, string? CountryCode,
    IReadOnlyList<string> CountriesServed, int Priority, string? Provider, DateTime VersionAt, string VersionEventId);

public sealed record RoutingRow(
    string PoolId, string Channel, string ShopId, string RulesJson, bool AllowSplit, DateTime VersionAt, string VersionEventId);

public sealed record SafetyStockRow(
    string PoolId, string Sku, string LocationId, int Quantity, DateTime VersionAt, string VersionEventId);

public sealed record BundleRow(
    string PoolId, string BundleSku, string ComponentsJson, bool Removed, DateTime VersionAt, string VersionEventId);

public sealed record ChannelLocationsRow(
    string PoolId, string Channel, string ShopId, bool AllLocations, IReadOnlyList<string> LocationIds, DateTime VersionAt, string VersionEventId);

public sealed record PoolSettingsRow(
    string PoolId, bool AllowOversell, bool AllowSplit, string BackorderPolicy, DateTime VersionAt, string VersionEventId);

public sealed record MovementRow(
    string EventId, string PoolId, string Sku, string LocationId, string Kind, int Quantity, int OnHandAfter, string Reference,
    string? ReasonCode, DateTime MovedAt);

public sealed record RejectRow(string Topic, int Partition, long Offset, string Error);

public sealed record ArchiveRow(
    string Topic, string EventId, string PoolId, byte[]? Key, byte[] Value, string HeadersJson, long TimestampMs);
