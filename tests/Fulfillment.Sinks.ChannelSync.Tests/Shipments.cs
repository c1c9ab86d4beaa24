using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Shipments;

namespace Fulfillment.Sinks.ChannelSync.Tests;

public static class Shipments
{
    public static ShipmentEvent Confirmed(Channel channel, string shopId, string channelOrderId, string trackingNumber, params (string LineId, string Sku, int Quantity)[] lines) => new()
    {
        metadata = new EventMetadata
        {
            event_id = Guid.NewGuid().ToString(),
            pool_id = "pool-acme",
            correlation_id = $"{channel}:{shopId}:{channelOrderId}",
            causation_id = "allocation-1",
            source_system = "wms",
            source_id = "pkg-1",
            occurred_at = new DateTime(2025, 11, 21, 15, 4, 5, DateTimeKind.Utc),
            recorded_at = new DateTime(2025, 11, 21, 15, 4, 6, DateTimeKind.Utc),
        },
        body = new ShipmentConfirmed
        {
            shipment_id = "shp-" + Guid.NewGuid().ToString("N")[..8],
            order_id = $"{channel}:{shopId}:{channelOrderId}",
            channel = channel,
            shop_id = shopId,
            channel_order_id = channelOrderId,
            location_id = "wh-east",
            carrier = "UPS",
            service = "Ground",
            tracking_number = trackingNumber,
            tracking_url = $"https://www.ups.com/track?tracknum={trackingNumber}",
            lines = [.. lines.Select(l => new ShipmentLine { line_id = l.LineId, sku = l.Sku, quantity = l.Quantity })],
        },
    };
}
