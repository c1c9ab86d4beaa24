using System.Text.Json;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>
/// eBay orders as the Fulfillment API's getOrders returns them (one <c>Order</c> object per delivery, stored byte for byte
/// as the poller received it). eBay's order notifications are not confirmed deliveries, so orders only come in by poll:
/// fetched by us over OAuth, nothing to verify. The shop (seller account) comes from <see cref="InboundDelivery.RouteShop"/>.
/// Dedupe on <c>orderId</c> + <c>lastModifiedDate</c>: a page fetched twice, or an overlap between polls, is a duplicate.
/// </summary>
public sealed class EbayReceiver(ShopDirectory shops) : IChannelReceiver
{
    public const string SourceName = "ebay";

    /// <summary>Event type recorded for polled orders.</summary>
    public const string PolledEventType = "getOrders";

    public string Source => SourceName;

    public Channel Channel => Channel.Ebay;

    public DeliveryResult Receive(InboundDelivery delivery, bool verifySignature = true)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var fallbackId = Signatures.BodyHash(delivery.Body.Span);
        if (delivery.Transport != IngestTransport.Poll)
        {
            // Nothing but our own poller delivers eBay orders; anything else is not from eBay.
            return DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, null, fallbackId, null, "eBay orders are only accepted from the poller");
        }

        if (shops.Find(Channel.Ebay, delivery.RouteShop) is not { } shop)
        {
            return DeliveryResult.Rejected(DeliveryStatus.UnknownShop, Source, null, fallbackId, PolledEventType, $"seller '{delivery.RouteShop}' is not configured");
        }

        return Receiving.Normalize(Source, shop, fallbackId, PolledEventType, () =>
        {
            using var doc = Json.Parse(delivery.Body);
            return Normalize(doc.RootElement, delivery, shop);
        });
    }

    private DeliveryResult Normalize(JsonElement o, InboundDelivery delivery, ChannelShop shop)
    {
        var ebayOrderId = o.Str("orderId") ?? throw new MalformedDeliveryException("$.orderId is missing");
        var lastModified = o.Str("lastModifiedDate") ?? throw new MalformedDeliveryException("$.lastModifiedDate is missing (it is half of the dedupe key)");
        var deliveryId = $"order:{ebayOrderId}:{lastModified}";
        var context = new DeliveryContext(Source, deliveryId, shop, delivery.ReceivedAt);
        var occurredAt = o.RequiredTime("lastModifiedDate", "$");
        var orderId = OrderEvents.OrderId(Source, shop.ShopId, ebayOrderId);
        var status = o.Str("orderFulfillmentStatus") ?? throw new MalformedDeliveryException("$.orderFulfillmentStatus is missing");
        if (o.Prop("cancelStatus")?.Str("cancelState") == "CANCELED")
        {
            return Receiving.Accepted(Source, shop, deliveryId, PolledEventType,
                [OrderEvents.Cancelled(context, ebayOrderId, o.Prop("cancelStatus")?.Array("cancelRequests", "$.cancelStatus", required: false)
                    .Select(r => r.Item.Str("cancelReason")).FirstOrDefault(r => r is not null) ?? "CANCELED", occurredAt)], orderId);
        }

        var order = OrderEvents.NewOrder(context, ebayOrderId, o.RequiredTime("creationDate", "$"));
        order.order_number = o.Str("salesRecordReference") ?? o.Str("legacyOrderId") ?? ebayOrderId;
        order.channel_status = o.Str("orderPaymentStatus") is { } paid ? $"{paid}/{status}" : status;
        order.currency = o.Prop("pricingSummary")?.Prop("total")?.Str("currency");
        foreach (var (item, path) in o.Array("lineItems", "$", required: true))
        {
            var quantity = item.Int("quantity", path);
            if (quantity < 0)
            {
                throw new MalformedDeliveryException($"{path}.quantity is negative");
            }

            // lineItemCost is the unit price times the quantity, before discounts.
            var cost = item.Prop("lineItemCost")?.Decimal("value", path + ".lineItemCost");
            order.lines.Add(OrderEvents.Line(shops, shop, item.Id("lineItemId", path), item.Str("sku"), quantity,
                cost is { } total && quantity > 0 ? total / quantity : null,
                channelProductId: item.OptionalId("legacyItemId")));
            if (item.Prop("lineItemFulfillmentInstructions")?.Time("shipByDate", path + ".lineItemFulfillmentInstructions") is { } shipBy
                && (order.latest_ship_at is null || shipBy < order.latest_ship_at))
            {
                order.latest_ship_at = shipBy;
            }
        }

        // eBay International Shipping: shipTo is the intermediary's warehouse, which is where we ship; the buyer's own
        // address is finalDestinationAddress and is not ours to ship to.
        var instructions = o.Array("fulfillmentStartInstructions", "$", required: false).FirstOrDefault();
        if (instructions.Item.ValueKind == JsonValueKind.Object && instructions.Item.Prop("shippingStep") is { ValueKind: JsonValueKind.Object } step)
        {
            order.requested_service_code = step.Str("shippingServiceCode");
            order.requested_service_level = OrderEvents.ServiceLevelOf(order.requested_service_code);
            if (step.Prop("shipTo") is { ValueKind: JsonValueKind.Object } shipTo && shipTo.Prop("contactAddress") is { ValueKind: JsonValueKind.Object } a)
            {
                order.shipping_address = new Address
                {
                    name = shipTo.Str("fullName"),
                    company = shipTo.Str("companyName"),
                    line1 = a.Str("addressLine1"),
                    line2 = a.Str("addressLine2"),
                    city = a.Str("city"),
                    region = a.Str("stateOrProvince"),
                    postal_code = a.Str("postalCode"),
                    country_code = a.Str("countryCode")?.ToUpperInvariant(),
                    phone = shipTo.Prop("primaryPhone")?.Str("phoneNumber"),
                };
            }
        }

        // A poll cannot tell whether it saw the order first: it reports the state it saw (as the Amazon poll does).
        return Receiving.Accepted(Source, shop, deliveryId, PolledEventType, [OrderEvents.Updated(context, order, occurredAt)], orderId);
    }
}
