using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Schemas.Tests;

/// <summary>Hand-written, realistic events for tests that need a specific shape rather than random content.</summary>
internal static class SampleData
{
    private static readonly DateTime PlacedAt = new(2026, 11, 23, 10, 15, 0, DateTimeKind.Utc);

    public static OrderEvent OrderPlaced() => new()
    {
        metadata = new EventMetadata
        {
            event_id = "evt-shopify-123-placed",
            pool_id = "pool-acme",
            correlation_id = "order:shopify:acme.myshopify.com:450789469",
            causation_id = "raw:shopify:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            source_system = "shopify",
            source_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            occurred_at = PlacedAt,
            recorded_at = PlacedAt.AddMilliseconds(412),
        },
        body = new OrderPlaced
        {
            order = new ChannelOrder
            {
                order_id = "shopify:acme.myshopify.com:450789469",
                channel = Channel.Shopify,
                shop_id = "acme.myshopify.com",
                channel_order_id = "450789469",
                order_number = "#1001",
                lines =
                [
                    new OrderLine { line_id = "466157049", sku = "IPOD2008GREEN", quantity = 1, unit_price = Money.ToAvro(199.00m) },
                    new OrderLine { line_id = "518995019", sku = "IPOD2008RED", quantity = 2, unit_price = Money.ToAvro(199.00m), flags = [OrderLineFlag.UnknownSku] },
                ],
                shipping_address = new Address { city = "Ottawa", region = "ON", postal_code = "K2P 1L4", country_code = "CA", latitude = 45.41634, longitude = -75.6868 },
                requested_service_level = ServiceLevel.Standard,
                requested_service_code = "Standard Shipping",
                placed_at = PlacedAt,
                currency = "CAD",
            },
        },
    };
}
