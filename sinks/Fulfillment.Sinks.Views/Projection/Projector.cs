using System.Text.Json;
using Avro.Specific;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Fulfillment.Schemas.Tracking;

namespace Fulfillment.Sinks.Views.Projection;

/// <summary>
/// Maps each decoded event to the view rows it affects (one handler per event type, Eventuous-projector style); pure,
/// no I/O. Every event also lands in the audit index (<see cref="ViewBatch.Events"/>).
/// </summary>
public static class Projector
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Adds the rows of one record. <paramref name="partition"/>/<paramref name="offset"/> are its Kafka position.</summary>
    public static void Apply(ViewBatch batch, string topic, int partition, long offset, ISpecificRecord value)
    {
        ArgumentNullException.ThrowIfNull(batch);
        switch (value)
        {
            case OrderEvent e:
                ApplyOrder(batch, topic, e);
                break;
            case AllocationEvent e:
                ApplyAllocation(batch, topic, partition, offset, e);
                break;
            case StockLevelEvent e:
                ApplyStockLevel(batch, topic, partition, offset, e);
                break;
            case ShipmentEvent e:
                ApplyShipment(batch, topic, e);
                break;
            case TrackingEvent e:
                ApplyTracking(batch, topic, e);
                break;
            case ChannelPushOutcome e:
                ApplyPush(batch, topic, e);
                break;
            case DeadLetter e:
                ApplyDeadLetter(batch, topic, e);
                break;
            case OperatorCommand e:
                ApplyCommand(batch, topic, e);
                break;
            case RawIngestRecord e:
                Index(batch, topic, "RawDelivery", e.metadata, new
                {
                    e.source,
                    e.delivery_id,
                    transport = e.transport.ToString(),
                    e.event_type,
                    e.request_path,
                    e.content_type,
                    body_bytes = e.body?.Length ?? 0,
                    received_at = Utc(e.received_at),
                    e.signature_verified,
                    e.rejection_reason,
                });
                break;
            default:
                throw new ArgumentException($"No projection for {value.GetType().FullName}.", nameof(value));
        }
    }

    public static DateTime Utc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    private static void Index(ViewBatch batch, string topic, string kind, EventMetadata m, object summary)
    {
        if (batch.IndexEvents)
        {
            ViewBatch.KeepFirst(batch.Events, m.event_id, new EventRow(
                m.event_id, topic, kind, m.pool_id, m.correlation_id, m.causation_id, m.source_system, m.source_id,
                Utc(m.occurred_at), Utc(m.recorded_at), JsonSerializer.Serialize(summary, Json)));
        }
    }

    private static void ApplyOrder(ViewBatch batch, string topic, OrderEvent e)
    {
        var m = e.metadata;
        switch (e.body)
        {
            case OrderPlaced placed:
                Index(batch, topic, nameof(OrderPlaced), m, OrderSummary(placed.order));
                AddOrder(batch, m, placed.order);
                break;
            case OrderUpdated updated:
                Index(batch, topic, nameof(OrderUpdated), m, OrderSummary(updated.order));
                AddOrder(batch, m, updated.order);
                break;
            case OrderCancelled c:
                Index(batch, topic, nameof(OrderCancelled), m, new { c.order_id, channel = c.channel.ToString(), c.shop_id, c.channel_order_id, c.reason });
                ViewBatch.KeepLatest(batch.Cancels, c.order_id,
                    new CancelRow(c.order_id, m.pool_id, c.channel.ToString(), c.shop_id, c.channel_order_id, Utc(m.occurred_at), c.reason, m.event_id),
                    // The first cancellation is the one that counts; later ones only repeat it. Same time (a webhook and
                    // a poll reporting one cancellation): the lower reason, as the database decides across batches.
                    (n, o) => n.CancelledAt < o.CancelledAt
                        || (n.CancelledAt == o.CancelledAt && string.CompareOrdinal(n.Reason ?? "", o.Reason ?? "") < 0));
                batch.TouchedOrders.Add(c.order_id);
                break;
            default:
                throw new ArgumentException($"Unknown order event body {e.body?.GetType().Name}.", nameof(e));
        }
    }

    private static object OrderSummary(ChannelOrder o) => new
    {
        o.order_id,
        channel = o.channel.ToString(),
        o.shop_id,
        o.channel_order_id,
        o.order_number,
        o.channel_status,
        lines = o.lines.Select(l => new { l.line_id, l.sku, l.quantity }),
    };

    private static void AddOrder(ViewBatch batch, EventMetadata m, ChannelOrder o)
    {
        var row = new OrderRow(
            o.order_id, m.pool_id, o.channel.ToString(), o.shop_id, o.channel_order_id, o.order_number, o.channel_status,
            o.fulfillment_channel.ToString(), o.requested_service_level.ToString(), o.currency, o.shipping_address?.country_code,
            o.priority, Utc(o.placed_at), o.latest_ship_at is { } ls ? Utc(ls) : null, Utc(m.occurred_at), m.event_id,
            [.. o.lines.Select(l => new OrderLineRow(l.line_id, l.sku, l.quantity, Money.FromAvro(l.unit_price)))]);
        ViewBatch.KeepLatest(batch.Orders, o.order_id, row, (n, x) => Versions.Newer(n.VersionAt, n.VersionEventId, x.VersionAt, x.VersionEventId));
        batch.TouchedOrders.Add(o.order_id);
    }

    private static void ApplyAllocation(ViewBatch batch, string topic, int partition, long offset, AllocationEvent e)
    {
        var m = e.metadata;
        var at = Utc(m.occurred_at);
        var recorded = Utc(m.recorded_at);
        switch (e.body)
        {
            case AllocationDecided d:
                Index(batch, topic, nameof(AllocationDecided), m, new
                {
                    d.allocation_id,
                    d.order_id,
                    lines = d.lines.Select(l => new { l.line_id, l.sku, l.location_id, l.quantity }),
                    d.rule_trail,
                });
                // The order's complete allocation: the newest decision replaces earlier ones (see 005_allocation_snapshots.sql).
                ViewBatch.KeepLatest(batch.AllocationDecisions, d.allocation_id, new AllocationDecisionRow(
                    d.allocation_id, d.order_id, m.pool_id, [.. d.rule_trail], at, m.event_id,
                    [.. d.lines.Select(l => new AllocationLineRow(l.line_id, l.sku, l.location_id, l.quantity))], recorded, partition, offset),
                    AllocationDecisionRow.Newer);
                batch.TouchedOrders.Add(d.order_id);
                break;
            case OrderBackordered b:
                Index(batch, topic, nameof(OrderBackordered), m, new
                {
                    b.order_id,
                    lines = b.lines.Select(l => new { l.line_id, l.sku, l.quantity }),
                    b.reason,
                    b.rule_trail,
                });
                foreach (var l in b.lines)
                {
                    var row = new BackorderRow(b.order_id, l.line_id, m.pool_id, l.sku, l.quantity, b.reason, [.. b.rule_trail], at, m.event_id, at);
                    if (batch.Backorders.TryGetValue((b.order_id, l.line_id), out var seen))
                    {
                        // The latest backorder describes the line; the earliest one dates it (backorder age).
                        var first = seen.FirstBackorderedAt < at ? seen.FirstBackorderedAt : at;
                        row = Versions.Newer(row.VersionAt, row.VersionEventId, seen.VersionAt, seen.VersionEventId)
                            ? row with { FirstBackorderedAt = first }
                            : seen with { FirstBackorderedAt = first };
                    }

                    batch.Backorders[(b.order_id, l.line_id)] = row;
                }

                batch.TouchedOrders.Add(b.order_id);
                break;
            case AllocationReleased r:
                Index(batch, topic, nameof(AllocationReleased), m, new
                {
                    r.allocation_id,
                    r.order_id,
                    lines = r.lines.Select(l => new { l.line_id, l.sku, l.location_id, l.quantity }),
                    reason = r.reason.ToString(),
                });
                foreach (var l in r.lines)
                {
                    ViewBatch.KeepFirst(batch.Releases, (m.event_id, l.line_id, l.location_id), new ReleaseRow(
                        m.event_id, l.line_id, l.location_id, r.allocation_id, r.order_id, l.sku, l.quantity, r.reason.ToString(), at, recorded, partition, offset));
                }

                batch.TouchedOrders.Add(r.order_id);
                break;
            default:
                throw new ArgumentException($"Unknown allocation event body {e.body?.GetType().Name}.", nameof(e));
        }
    }

    private static void ApplyStockLevel(ViewBatch batch, string topic, int partition, long offset, StockLevelEvent e)
    {
        var m = e.metadata;
        switch (e.body)
        {
            case StockLevelChanged s:
                Index(batch, topic, nameof(StockLevelChanged), m, new { s.sku, s.location_id, s.on_hand, s.allocated, s.available, s.in_transit });
                var channels = JsonSerializer.Serialize(
                    s.channel_available_to_sell.Select(c => new { channel = c.channel.ToString(), c.shop_id, c.available_to_sell }), Json);
                var row = new StockLevelRow(m.pool_id, s.sku, s.location_id, s.on_hand, s.allocated, s.safety_stock, s.available,
                    s.in_transit, channels, Utc(m.occurred_at), m.event_id, partition, offset, Utc(m.recorded_at));
                // The processor's order, not the inputs' business time (006_stock_levels_processor_order.sql).
                ViewBatch.KeepLatest(batch.StockLevels, (m.pool_id, s.sku, s.location_id), row, StockLevelRow.Newer);
                break;
            case StockMoved mv:
                Index(batch, topic, nameof(StockMoved), m, new { mv.sku, mv.location_id, kind = mv.kind.ToString(), mv.quantity, mv.on_hand_after, mv.reference, mv.reason_code });
                ViewBatch.KeepFirst(batch.Movements, m.event_id, new MovementRow(m.event_id, m.pool_id, mv.sku, mv.location_id,
                    mv.kind.ToString(), mv.quantity, mv.on_hand_after, mv.reference, mv.reason_code, Utc(m.occurred_at)));
                break;
            case DriftDetected d:
                Index(batch, topic, nameof(DriftDetected), m, new { d.sku, d.location_id, d.expected_on_hand, d.reported_on_hand, d.drift, detected_by = d.detected_by.ToString() });
                ViewBatch.KeepFirst(batch.Drift, m.event_id, new DriftRow(m.event_id, m.pool_id, d.sku, d.location_id,
                    d.expected_on_hand, d.reported_on_hand, d.drift, d.detected_by.ToString(), Utc(m.occurred_at)));
                break;
            default:
                throw new ArgumentException($"Unknown stock level event body {e.body?.GetType().Name}.", nameof(e));
        }
    }

    private static void ApplyShipment(ViewBatch batch, string topic, ShipmentEvent e)
    {
        var m = e.metadata;
        if (e.body is not ShipmentConfirmed s)
        {
            throw new ArgumentException($"Unknown shipment event body {e.body?.GetType().Name}.", nameof(e));
        }

        Index(batch, topic, nameof(ShipmentConfirmed), m, new
        {
            s.shipment_id,
            s.order_id,
            s.location_id,
            s.carrier,
            s.service,
            s.tracking_number,
            lines = s.lines.Select(l => new { l.line_id, l.sku, l.quantity }),
        });
        var row = new ShipmentRow(s.shipment_id, s.order_id, m.pool_id, s.channel.ToString(), s.shop_id, s.channel_order_id,
            s.location_id, s.carrier, s.service, s.tracking_number, s.tracking_url, Utc(m.occurred_at), m.event_id,
            [.. s.lines.Select(l => new ShipmentLineRow(l.line_id, l.sku, l.quantity))]);
        ViewBatch.KeepLatest(batch.Shipments, s.shipment_id, row, (n, o) => Versions.Newer(n.ShippedAt, n.VersionEventId, o.ShippedAt, o.VersionEventId));
        batch.TouchedOrders.Add(s.order_id);
    }

    private static void ApplyTracking(ViewBatch batch, string topic, TrackingEvent e)
    {
        var m = e.metadata;
        Index(batch, topic, "TrackingUpdated", m, new { e.carrier, e.tracking_number, status = e.status.ToString(), e.raw_status, e.status_detail, e.shipment_id, e.order_id });
        var row = new TrackingRow(e.carrier, e.tracking_number, e.status.ToString(), e.raw_status, e.status_detail, e.shipment_id,
            e.order_id, e.estimated_delivery_at is { } eta ? Utc(eta) : null, Utc(m.occurred_at), m.event_id);
        ViewBatch.KeepLatest(batch.Tracking, (e.carrier, e.tracking_number), row,
            (n, o) => Versions.Newer(n.StatusAt, n.VersionEventId, o.StatusAt, o.VersionEventId));
    }

    private static void ApplyPush(ViewBatch batch, string topic, ChannelPushOutcome e)
    {
        var m = e.metadata;
        Index(batch, topic, "ChannelPush" + e.outcome, m, new
        {
            channel = e.channel.ToString(),
            e.shop_id,
            operation = e.operation.ToString(),
            e.push_id,
            e.target_id,
            e.attempt,
            outcome = e.outcome.ToString(),
            e.http_status,
            e.error,
        });
        var row = new PushAttemptRow(m.event_id, e.push_id, m.pool_id, m.correlation_id, e.channel.ToString(), e.shop_id,
            e.operation.ToString(), e.target_id, e.attempt, e.outcome.ToString(), e.http_status, e.error,
            e.next_attempt_at is { } next ? Utc(next) : null, Utc(m.occurred_at));
        ViewBatch.KeepFirst(batch.PushAttempts, m.event_id, row);
        ViewBatch.KeepLatest(batch.Pushes, e.push_id, row, NewerAttempt);
        batch.TouchedOrders.Add(m.correlation_id);
    }

    /// <summary>The later attempt describes the push's state; same attempt: the later outcome, then the event id.</summary>
    public static bool NewerAttempt(PushAttemptRow n, PushAttemptRow o) =>
        n.Attempt > o.Attempt || (n.Attempt == o.Attempt && Versions.Newer(n.AttemptedAt, n.EventId, o.AttemptedAt, o.EventId));

    private static void ApplyDeadLetter(ViewBatch batch, string topic, DeadLetter e)
    {
        var m = e.metadata;
        Index(batch, topic, nameof(DeadLetter), m, new { e.source_topic, e.source_partition, e.source_offset, e.reason, e.error_type, e.consumer_group });
        ViewBatch.KeepFirst(batch.DeadLetters, m.event_id, new DeadLetterRow(m.event_id, m.pool_id, m.correlation_id, e.source_topic,
            e.source_partition, e.source_offset, e.reason, e.error_type, e.consumer_group, Utc(e.failed_at)));
    }

    private static void ApplyCommand(ViewBatch batch, string topic, OperatorCommand e)
    {
        var m = e.metadata;
        var at = Utc(m.occurred_at);
        var kind = e.body?.GetType().Name ?? "Unknown";
        Index(batch, topic, kind, m, new { command = kind, e.issued_by, body = CommandSummary(e.body) });
        switch (e.body)
        {
            case TransferRequested t:
                ViewBatch.KeepFirst(batch.TransfersRequested, t.transfer_id, new TransferRow(t.transfer_id, m.pool_id,
                    t.from_location_id, t.to_location_id, at, m.event_id, null, null, [.. t.lines.Select(l => (l.sku, l.quantity))]));
                break;
            case TransferShipped t:
                ViewBatch.KeepFirst(batch.TransfersShipped, t.transfer_id, new TransferRow(t.transfer_id, m.pool_id,
                    t.from_location_id, t.to_location_id, at, m.event_id, t.carrier, t.tracking_number, [.. t.lines.Select(l => (l.sku, l.quantity))]));
                break;
            case TransferReceived t:
                ViewBatch.KeepFirst(batch.TransfersReceived, t.transfer_id, new TransferRow(t.transfer_id, m.pool_id,
                    t.from_location_id, t.to_location_id, at, m.event_id, null, null, [.. t.lines.Select(l => (l.sku, l.received_quantity))]));
                break;
            case LocationUpserted l:
                ViewBatch.KeepLatest(batch.Locations, (m.pool_id, l.location_id), new LocationRow(m.pool_id, l.location_id, l.name,
                    l.kind.ToString(), l.active, l.address?.country_code, [.. l.countries_served], l.priority, l.provider, at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            case RoutingRulesSet r:
                var rules = JsonSerializer.Serialize(r.rules.Select(x => new
                {
                    kind = x.kind.ToString(),
                    x.location_ids,
                    parameters = x.parameters,
                }), Json);
                ViewBatch.KeepLatest(batch.Routing, (m.pool_id, r.channel.ToString(), r.shop_id ?? "*"),
                    new RoutingRow(m.pool_id, r.channel.ToString(), r.shop_id ?? "*", rules, r.allow_split, at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            case SafetyStockSet s:
                ViewBatch.KeepLatest(batch.SafetyStock, (m.pool_id, s.sku, s.location_id ?? "*"),
                    new SafetyStockRow(m.pool_id, s.sku, s.location_id ?? "*", s.quantity, at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            case BundleDefined b:
                ViewBatch.KeepLatest(batch.Bundles, (m.pool_id, b.bundle_sku), new BundleRow(m.pool_id, b.bundle_sku,
                    JsonSerializer.Serialize(b.components.Select(c => new { c.sku, c.quantity }), Json), false, at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            case BundleRemoved b:
                ViewBatch.KeepLatest(batch.Bundles, (m.pool_id, b.bundle_sku), new BundleRow(m.pool_id, b.bundle_sku, "[]", true, at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            case ChannelLocationsSet c:
                ViewBatch.KeepLatest(batch.ChannelLocations, (m.pool_id, c.channel.ToString(), c.shop_id ?? "*"),
                    new ChannelLocationsRow(m.pool_id, c.channel.ToString(), c.shop_id ?? "*", c.location_ids is null, [.. c.location_ids ?? []], at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            case PoolSettingsSet p:
                ViewBatch.KeepLatest(batch.PoolSettings, m.pool_id,
                    new PoolSettingsRow(m.pool_id, p.allow_oversell, p.allow_split, p.backorder_policy.ToString(), at, m.event_id),
                    (n, o) => Versions.Newer(n.VersionAt, n.VersionEventId, o.VersionAt, o.VersionEventId));
                break;
            default:
                // Receive, adjust and count change stock through the inventory processor; their effect reaches the views
                // as stock level changes, and the command itself is in the audit index above.
                break;
        }
    }

    private static object? CommandSummary(object? body) => body switch
    {
        StockReceived r => new { r.location_id, r.receipt_id, lines = r.lines.Select(l => new { l.sku, l.quantity }) },
        StockAdjusted a => new { a.location_id, reason = a.reason_code.ToString(), a.note, lines = a.lines.Select(l => new { l.sku, l.quantity }) },
        StockCounted c => new { c.location_id, c.count_id, lines = c.lines.Select(l => new { l.sku, l.quantity }) },
        TransferRequested t => new { t.transfer_id, t.from_location_id, t.to_location_id },
        TransferShipped t => new { t.transfer_id, t.carrier, t.tracking_number },
        TransferReceived t => new { t.transfer_id },
        LocationUpserted l => new { l.location_id, l.name, kind = l.kind.ToString(), l.active },
        RoutingRulesSet r => new { channel = r.channel.ToString(), r.shop_id, rules = r.rules.Count, r.allow_split },
        SafetyStockSet s => new { s.sku, s.location_id, s.quantity },
        BundleDefined b => new { b.bundle_sku, components = b.components.Select(c => new { c.sku, c.quantity }) },
        BundleRemoved b => new { b.bundle_sku },
        ChannelLocationsSet c => new { channel = c.channel.ToString(), c.shop_id, c.location_ids },
        PoolSettingsSet p => new { p.allow_oversell, p.allow_split, backorder_policy = p.backorder_policy.ToString() },
        _ => null,
    };
}
