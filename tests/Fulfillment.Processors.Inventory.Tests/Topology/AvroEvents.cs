using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using AvroLocationKind = Fulfillment.Schemas.Operator.LocationKind;
using AvroSkuQuantity = Fulfillment.Schemas.Common.SkuQuantity;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

/// <summary>Builds the Avro events connectors and the operator API put on the pool topics.</summary>
internal static class AvroEvents
{
    public static readonly DateTime T0 = new(2026, 11, 1, 8, 0, 0, DateTimeKind.Utc);

    public static EventMetadata Metadata(string id, string pool, string correlation) => new()
    {
        event_id = id,
        pool_id = pool,
        correlation_id = correlation,
        causation_id = id,
        source_system = "test",
        source_id = id,
        occurred_at = T0,
        recorded_at = T0,
    };

    public static OperatorCommand Location(string pool, string id, double lat, double lon, AvroLocationKind kind = AvroLocationKind.Warehouse) => new()
    {
        metadata = Metadata($"loc-{id}", pool, id),
        body = new LocationUpserted
        {
            location_id = id,
            name = id,
            kind = kind,
            address = new Address { country_code = "US", latitude = lat, longitude = lon },
            active = true,
            countries_served = ["US"],
        },
    };

    public static OperatorCommand Receipt(string pool, string eventId, string location, params (string Sku, int Quantity)[] lines) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new StockReceived
        {
            location_id = location,
            receipt_id = eventId,
            lines = [.. lines.Select(l => new AvroSkuQuantity { sku = l.Sku, quantity = l.Quantity })],
        },
    };

    public static OperatorCommand Adjustment(string pool, string eventId, string location, AdjustmentReason reason, params (string Sku, int Delta)[] lines) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new StockAdjusted
        {
            location_id = location,
            reason_code = reason,
            lines = [.. lines.Select(l => new AvroSkuQuantity { sku = l.Sku, quantity = l.Delta })],
        },
    };

    public static OperatorCommand Count(string pool, string eventId, string location, params (string Sku, int Counted)[] lines) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new StockCounted
        {
            location_id = location,
            count_id = eventId,
            lines = [.. lines.Select(l => new AvroSkuQuantity { sku = l.Sku, quantity = l.Counted })],
        },
    };

    public static OperatorCommand Bundle(string pool, string eventId, string bundleSku, params (string Sku, int Quantity)[] components) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new BundleDefined
        {
            bundle_sku = bundleSku,
            components = [.. components.Select(c => new AvroSkuQuantity { sku = c.Sku, quantity = c.Quantity })],
        },
    };

    public static OperatorCommand BundleGone(string pool, string eventId, string bundleSku) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new BundleRemoved { bundle_sku = bundleSku },
    };

    public static OperatorCommand ChannelLocations(string pool, string eventId, Channel channel, params string[]? locations) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new ChannelLocationsSet { channel = channel, location_ids = locations is null ? null : [.. locations] },
    };

    public static OperatorCommand Settings(string pool, string eventId, bool oversell = false, bool split = true, BackorderPolicy policy = BackorderPolicy.AllocateAvailable) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new PoolSettingsSet { allow_oversell = oversell, allow_split = split, backorder_policy = policy },
    };

    public static StockMovementEvent Snapshot(string pool, string eventId, string location, params (string Sku, int OnHand)[] lines) => new()
    {
        metadata = Metadata(eventId, pool, eventId),
        body = new ThirdPartyStockSnapshot
        {
            location_id = location,
            provider = "shipbob",
            lines = [.. lines.Select(l => new ThirdPartyStockLine { sku = l.Sku, on_hand = l.OnHand })],
            complete = false,
        },
    };

    public static OrderEvent Placed(string pool, string orderId, double lat, double lon, params (string Sku, int Quantity)[] lines) => new()
    {
        metadata = Metadata($"placed-{orderId}", pool, orderId),
        body = new OrderPlaced { order = Order(orderId, lat, lon, lines) },
    };

    public static OrderEvent Updated(string pool, string orderId, double lat, double lon, params (string Sku, int Quantity)[] lines) => new()
    {
        metadata = Metadata($"updated-{orderId}", pool, orderId),
        body = new OrderUpdated { order = Order(orderId, lat, lon, lines) },
    };

    public static OrderEvent Cancelled(string pool, string orderId) => new()
    {
        metadata = Metadata($"cancelled-{orderId}", pool, orderId),
        body = new OrderCancelled { order_id = orderId, channel = Channel.Shopify, shop_id = "shop", channel_order_id = orderId, reason = "customer" },
    };

    public static ShipmentEvent Shipped(string pool, string orderId, string shipmentId, string location, params (string LineId, int Quantity)[] lines) => new()
    {
        metadata = Metadata($"shipped-{shipmentId}", pool, orderId),
        body = new ShipmentConfirmed
        {
            shipment_id = shipmentId,
            order_id = orderId,
            channel = Channel.Shopify,
            shop_id = "shop",
            channel_order_id = orderId,
            location_id = location,
            carrier = "ups",
            lines = [.. lines.Select(l => new ShipmentLine { line_id = l.LineId, sku = "", quantity = l.Quantity })],
        },
    };

    private static ChannelOrder Order(string orderId, double lat, double lon, (string Sku, int Quantity)[] lines) => new()
    {
        order_id = orderId,
        channel = Channel.Shopify,
        shop_id = "shop",
        channel_order_id = orderId,
        lines = [.. lines.Select((l, i) => new OrderLine { line_id = $"{i + 1}", sku = l.Sku, quantity = l.Quantity })],
        shipping_address = new Address { country_code = "US", latitude = lat, longitude = lon },
        placed_at = T0,
    };
}
