using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;

namespace Fulfillment.Sinks.Views.Tests.Infrastructure;

/// <summary>Builds events as the connectors and processors write them (metadata first, correlation = order id).</summary>
public static class Ev
{
    public static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);

    public static EventMetadata Meta(string eventId, string pool, string correlation, DateTime at, string causation = "cause", string source = "hub") => new()
    {
        event_id = eventId,
        pool_id = pool,
        correlation_id = correlation,
        causation_id = causation,
        source_system = source,
        source_id = eventId,
        occurred_at = at,
        recorded_at = at,
    };

    public static ChannelOrder Order(string orderId, params (string Line, string Sku, int Qty)[] lines) => new()
    {
        order_id = orderId,
        channel = Channel.Shopify,
        shop_id = "shop-1",
        channel_order_id = "c-" + orderId,
        order_number = "#" + orderId,
        lines = [.. lines.Select(l => new OrderLine { line_id = l.Line, sku = l.Sku, quantity = l.Qty, unit_price = Money.ToAvro(12.5m), flags = [] })],
        shipping_address = new Address { country_code = "US" },
        placed_at = T0,
        channel_status = "paid",
    };

    public static OrderEvent Placed(string pool, ChannelOrder order, DateTime at, string? eventId = null, string causation = "cause") =>
        new() { metadata = Meta(eventId ?? $"placed-{order.order_id}", pool, order.order_id, at, causation, "shopify"), body = new OrderPlaced { order = order } };

    public static OrderEvent Updated(string pool, ChannelOrder order, DateTime at, string eventId) =>
        new() { metadata = Meta(eventId, pool, order.order_id, at, source: "shopify"), body = new OrderUpdated { order = order } };

    public static OrderEvent Cancelled(string pool, string orderId, DateTime at) => new()
    {
        metadata = Meta($"cancel-{orderId}", pool, orderId, at, source: "shopify"),
        body = new OrderCancelled { order_id = orderId, channel = Channel.Shopify, shop_id = "shop-1", channel_order_id = "c-" + orderId, reason = "customer" },
    };

    public static AllocationEvent Allocated(string pool, string orderId, DateTime at, params (string Line, string Sku, string Location, int Qty)[] lines) => new()
    {
        metadata = Meta($"alloc-{orderId}", pool, orderId, at, $"placed-{orderId}", "inventory-processor"),
        body = new AllocationDecided
        {
            allocation_id = $"a-{orderId}",
            order_id = orderId,
            lines = [.. lines.Select(l => new AllocationLine { line_id = l.Line, sku = l.Sku, location_id = l.Location, quantity = l.Qty })],
            rule_trail = ["MinimizeSplits: 1 location can serve 0 of 2 lines", "ClosestLocation: WH1"],
        },
    };

    public static AllocationEvent Backordered(string pool, string orderId, DateTime at, string line, string sku, int qty) => new()
    {
        metadata = Meta($"bo-{orderId}-{at.Ticks}", pool, orderId, at, $"placed-{orderId}", "inventory-processor"),
        body = new OrderBackordered
        {
            order_id = orderId,
            lines = [new BackorderLine { line_id = line, sku = sku, quantity = qty }],
            reason = "no stock",
            rule_trail = ["RequireFullAvailability: none"],
        },
    };

    /// <summary>An allocation the way the inventory processor writes it: allocation id = order id, the order's complete
    /// allocation after the decision (a backorder fill repeats the earlier lines), event id = the input's id + "/" +
    /// output index, recorded_at = its stream time.</summary>
    public static AllocationEvent Decided(string pool, string orderId, string eventId, DateTime at, params (string Line, string Sku, string Location, int Qty)[] lines) => new()
    {
        metadata = Meta(eventId, pool, orderId, at, eventId.Split('/')[0], "inventory-processor"),
        body = new AllocationDecided
        {
            allocation_id = orderId,
            order_id = orderId,
            lines = [.. lines.Select(l => new AllocationLine { line_id = l.Line, sku = l.Sku, location_id = l.Location, quantity = l.Qty })],
            rule_trail = [$"{lines.Length} line(s) allocated"],
        },
    };

    /// <summary>A release the way the inventory processor writes it (allocation id = order id).</summary>
    public static AllocationEvent Released(string pool, string orderId, string eventId, DateTime at, ReleaseReason reason, params (string Line, string Sku, string Location, int Qty)[] lines) => new()
    {
        metadata = Meta(eventId, pool, orderId, at, eventId.Split('/')[0], "inventory-processor"),
        body = new AllocationReleased
        {
            allocation_id = orderId,
            order_id = orderId,
            reason = reason,
            lines = [.. lines.Select(l => new AllocationLine { line_id = l.Line, sku = l.Sku, location_id = l.Location, quantity = l.Qty })],
        },
    };

    public static ShipmentEvent Shipped(string pool, string orderId, string shipmentId, string location, DateTime at, params (string Line, string Sku, int Qty)[] lines) => new()
    {
        metadata = Meta($"ship-{shipmentId}", pool, orderId, at, source: "operator"),
        body = new ShipmentConfirmed
        {
            shipment_id = shipmentId,
            order_id = orderId,
            channel = Channel.Shopify,
            shop_id = "shop-1",
            channel_order_id = "c-" + orderId,
            location_id = location,
            carrier = "ups",
            service = "ground",
            tracking_number = "1Z" + shipmentId,
            lines = [.. lines.Select(l => new ShipmentLine { line_id = l.Line, sku = l.Sku, quantity = l.Qty })],
        },
    };

    public static ChannelPushOutcome Push(string pool, string orderId, string pushId, int attempt, PushOutcome outcome, DateTime at) => new()
    {
        metadata = Meta($"push-{pushId}-{attempt}", pool, orderId, at, $"ship-{pushId}", "channel-push"),
        channel = Channel.Shopify,
        shop_id = "shop-1",
        operation = PushOperation.CreateFulfillment,
        push_id = pushId,
        target_id = "c-" + orderId,
        attempt = attempt,
        outcome = outcome,
        http_status = outcome == PushOutcome.Pushed ? 200 : 503,
        error = outcome == PushOutcome.Pushed ? null : "throttled",
    };

    public static StockLevelEvent Level(string pool, string sku, string location, int onHand, int allocated, DateTime at, string? eventId = null) => new()
    {
        metadata = Meta(eventId ?? $"lvl-{sku}-{location}-{onHand}-{allocated}-{at.Ticks}", pool, $"{sku}@{location}", at, source: "inventory-processor"),
        body = new StockLevelChanged
        {
            sku = sku,
            location_id = location,
            on_hand = onHand,
            allocated = allocated,
            safety_stock = 0,
            available = Math.Max(0, onHand - allocated),
            in_transit = 0,
            channel_available_to_sell = [new ChannelStock { channel = Channel.Shopify, shop_id = "shop-1", available_to_sell = Math.Max(0, onHand - allocated) }],
        },
    };

    public static RawIngestRecord Raw(string pool, string deliveryId, string orderId, DateTime at) => new()
    {
        metadata = Meta(deliveryId, pool, orderId, at, deliveryId, "shopify"),
        source = "shopify",
        delivery_id = deliveryId,
        transport = IngestTransport.Webhook,
        event_type = "orders/create",
        headers = [],
        content_type = "application/json",
        body = "{\"id\":1}"u8.ToArray(),
        received_at = at,
        signature_verified = true,
    };

    public static OperatorCommand Command(string pool, string eventId, string correlation, DateTime at, object body) => new()
    {
        metadata = Meta(eventId, pool, correlation, at, eventId, "operator"),
        body = body,
        issued_by = "tests",
    };

    public static TransferRequested TransferRequest(string id, int qty) =>
        new() { transfer_id = id, from_location_id = "WH1", to_location_id = "WH2", lines = [new SkuQuantity { sku = "SKU-1", quantity = qty }] };

    public static TransferShipped TransferShip(string id, int qty) =>
        new() { transfer_id = id, from_location_id = "WH1", to_location_id = "WH2", lines = [new SkuQuantity { sku = "SKU-1", quantity = qty }], carrier = "dhl", tracking_number = "T-" + id };

    public static TransferReceived TransferReceive(string id, int shipped, int received) =>
        new() { transfer_id = id, from_location_id = "WH1", to_location_id = "WH2", lines = [new TransferReceivedLine { sku = "SKU-1", shipped_quantity = shipped, received_quantity = received }] };
}
