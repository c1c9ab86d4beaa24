using System.Text;
using System.Text.Json;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>Amazon SP-API <c>ORDER_CHANGE</c> notifications, as the SQS message (or its body) relayed over HTTP or taken
/// from a queue adapter. SQS/EventBridge carry no HTTP signature: over HTTP the relay must present the seller's API key in
/// <c>x-api-key</c> (an EventBridge API destination connection does); from a queue the transport authenticated it.
/// Dedupe on <c>NotificationMetadata.NotificationId</c>. AFN/MFN is preserved from <c>Summary.FulfillmentType</c>.</summary>
public sealed class AmazonReceiver(ShopDirectory shops) : IChannelReceiver
{
    public const string SourceName = "amazon";

    public const string ApiKeyHeader = "x-api-key";

    public string Source => SourceName;

    public Channel Channel => Channel.Amazon;

    public DeliveryResult Receive(InboundDelivery delivery, bool verifySignature = true)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        if (delivery.Transport == IngestTransport.Poll)
        {
            return ReceivePolled(delivery);
        }

        verifySignature &= delivery.Transport != IngestTransport.Queue;
        var apiKey = delivery.Header(ApiKeyHeader);
        JsonDocument? doc = null;
        string? parseError = null;
        try
        {
            doc = Unwrap(delivery.Body);
        }
        catch (MalformedDeliveryException e)
        {
            parseError = e.Message;
        }

        using (doc)
        {
            var root = doc?.RootElement;
            var notification = root?.Prop("Payload")?.Prop("OrderChangeNotification");
            var deliveryId = root?.Prop("NotificationMetadata")?.Str("NotificationId") ?? Signatures.BodyHash(delivery.Body.Span);
            var eventType = root?.Str("NotificationType");
            var sellerId = notification?.Str("SellerId");
            if (root is null || sellerId is null)
            {
                var signed = !verifySignature || shops.ShopsOf(Channel.Amazon).Any(s => Signatures.VerifyToken(s.Secret, apiKey));
                return signed
                    ? DeliveryResult.Rejected(DeliveryStatus.Malformed, Source, null, deliveryId, eventType,
                        parseError ?? "$.Payload.OrderChangeNotification.SellerId is missing")
                    : DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, null, deliveryId, eventType, $"{ApiKeyHeader} is missing or wrong");
            }

            if (shops.Find(Channel.Amazon, sellerId) is not { } shop)
            {
                return DeliveryResult.Rejected(DeliveryStatus.UnknownShop, Source, null, deliveryId, eventType, $"seller '{sellerId}' is not configured", sellerId);
            }

            if (verifySignature && !Signatures.VerifyToken(shop.Secret, apiKey))
            {
                return DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, shop, deliveryId, eventType, $"{ApiKeyHeader} is missing or wrong");
            }

            return Receiving.Normalize(Source, shop, deliveryId, eventType, () => Normalize(root.Value, delivery, shop, eventType));
        }
    }

    /// <summary>An SQS message (<c>{MessageId, ReceiptHandle, Body: "..."}</c>) carries the notification as a JSON string
    /// in <c>Body</c>; a bare notification is accepted too.</summary>
    private static JsonDocument Unwrap(ReadOnlyMemory<byte> body)
    {
        var doc = Json.Parse(body);
        if (doc.RootElement.Str("Body") is { } inner && doc.RootElement.Prop("NotificationMetadata") is null)
        {
            doc.Dispose();
            return Json.Parse(Encoding.UTF8.GetBytes(inner));
        }

        return doc;
    }

    private DeliveryResult Normalize(JsonElement root, InboundDelivery delivery, ChannelShop shop, string? eventType)
    {
        var deliveryId = root.RequiredObject("NotificationMetadata", "$").Str("NotificationId")
            ?? throw new MalformedDeliveryException("$.NotificationMetadata.NotificationId is missing");
        if (eventType != "ORDER_CHANGE")
        {
            return Receiving.Accepted(Source, shop, deliveryId, eventType, []);
        }

        var n = root.RequiredObject("Payload", "$").RequiredObject("OrderChangeNotification", "$.Payload");
        const string at = "$.Payload.OrderChangeNotification";
        var amazonOrderId = n.Str("AmazonOrderId") ?? throw new MalformedDeliveryException($"{at}.AmazonOrderId is missing");
        var summary = n.RequiredObject("Summary", at);
        var status = summary.Str("OrderStatus") ?? throw new MalformedDeliveryException($"{at}.Summary.OrderStatus is missing");
        var trigger = n.Prop("OrderChangeTrigger");
        var occurredAt = trigger?.Time("TimeOfOrderChange", $"{at}.OrderChangeTrigger") ?? root.Time("EventTime", "$") ?? delivery.ReceivedAt;
        var context = new DeliveryContext(Source, deliveryId, shop, delivery.ReceivedAt);
        var orderId = OrderEvents.OrderId(Source, shop.ShopId, amazonOrderId);
        if (status == "Canceled")
        {
            return Receiving.Accepted(Source, shop, deliveryId, eventType,
                [OrderEvents.Cancelled(context, amazonOrderId, trigger?.Str("ChangeReason"), occurredAt)], orderId);
        }

        var order = OrderEvents.NewOrder(context, amazonOrderId, summary.RequiredTime("PurchaseDate", $"{at}.Summary"));
        order.order_number = amazonOrderId;
        order.channel_status = status;
        order.marketplace_id = summary.Str("MarketplaceId");
        order.latest_ship_at = summary.Time("LatestShipDate", $"{at}.Summary");
        order.fulfillment_channel = summary.Str("FulfillmentType") switch
        {
            "AFN" => FulfillmentChannel.AFN,
            "MFN" or null => FulfillmentChannel.MFN,
            var other => throw new MalformedDeliveryException($"{at}.Summary.FulfillmentType '{other}' is neither AFN nor MFN"),
        };
        order.requested_service_code = summary.Str("ShipmentServiceLevelCategory");
        order.requested_service_level = OrderEvents.ServiceLevelOf(order.requested_service_code);
        if (summary.Str("DestinationPostalCode") is { } postalCode)
        {
            // The notification carries no address beyond the postal code; the order poll fills in the rest.
            order.shipping_address = new Address { postal_code = postalCode };
        }

        foreach (var (item, path) in summary.Array("OrderItems", $"{at}.Summary", required: false))
        {
            var quantity = item.Int("Quantity", path);
            order.lines.Add(OrderEvents.Line(shops, shop, item.Str("OrderItemId") ?? throw new MalformedDeliveryException($"{path}.OrderItemId is missing"),
                item.Str("SellerSKU"), quantity, unitPrice: null,
                buyerRequestedCancel: item.Bool("IsBuyerRequestedCancel", false)));
        }

        var evt = trigger?.Str("ChangeReason") == "NewOrder"
            ? OrderEvents.Placed(context, order, occurredAt)
            : OrderEvents.Updated(context, order, occurredAt);
        return Receiving.Accepted(Source, shop, deliveryId, eventType, [evt], orderId);
    }

    /// <summary>Body the order poller stores: <c>{SellerId, Order (getOrders), OrderItems (getOrderItems)}</c>. Fetched by
    /// us over an authenticated API, so there is no signature to check. Dedupe on order id + LastUpdateDate.</summary>
    public const string PolledEventType = "getOrders";

    private DeliveryResult ReceivePolled(InboundDelivery delivery)
    {
        var fallbackId = Signatures.BodyHash(delivery.Body.Span);
        try
        {
            using var doc = Json.Parse(delivery.Body);
            var root = doc.RootElement;
            var sellerId = root.Str("SellerId");
            if (shops.Find(Channel.Amazon, sellerId) is not { } shop)
            {
                return DeliveryResult.Rejected(DeliveryStatus.UnknownShop, Source, null, fallbackId, PolledEventType, $"seller '{sellerId}' is not configured");
            }

            var o = root.RequiredObject("Order", "$");
            var amazonOrderId = o.Str("AmazonOrderId") ?? throw new MalformedDeliveryException("$.Order.AmazonOrderId is missing");
            var lastUpdate = o.Str("LastUpdateDate") ?? throw new MalformedDeliveryException("$.Order.LastUpdateDate is missing");
            var deliveryId = $"order:{amazonOrderId}:{lastUpdate}";
            return Receiving.Normalize(Source, shop, deliveryId, PolledEventType, () =>
            {
                var context = new DeliveryContext(Source, deliveryId, shop, delivery.ReceivedAt);
                var occurredAt = o.RequiredTime("LastUpdateDate", "$.Order");
                var orderId = OrderEvents.OrderId(Source, shop.ShopId, amazonOrderId);
                var status = o.Str("OrderStatus") ?? throw new MalformedDeliveryException("$.Order.OrderStatus is missing");
                if (status == "Canceled")
                {
                    return Receiving.Accepted(Source, shop, deliveryId, PolledEventType, [OrderEvents.Cancelled(context, amazonOrderId, status, occurredAt)], orderId);
                }

                var order = OrderEvents.NewOrder(context, amazonOrderId, o.RequiredTime("PurchaseDate", "$.Order"));
                order.order_number = amazonOrderId;
                order.channel_status = status;
                order.marketplace_id = o.Str("MarketplaceId");
                order.latest_ship_at = o.Time("LatestShipDate", "$.Order");
                order.fulfillment_channel = o.Str("FulfillmentChannel") == "AFN" ? FulfillmentChannel.AFN : FulfillmentChannel.MFN;
                order.requested_service_code = o.Str("ShipmentServiceLevelCategory");
                order.requested_service_level = OrderEvents.ServiceLevelOf(order.requested_service_code);
                order.currency = o.Prop("OrderTotal")?.Str("CurrencyCode");
                if (o.Prop("ShippingAddress") is { ValueKind: JsonValueKind.Object } a)
                {
                    order.shipping_address = new Address
                    {
                        name = a.Str("Name"),
                        line1 = a.Str("AddressLine1"),
                        line2 = a.Str("AddressLine2"),
                        city = a.Str("City"),
                        region = a.Str("StateOrRegion"),
                        postal_code = a.Str("PostalCode"),
                        country_code = a.Str("CountryCode")?.ToUpperInvariant(),
                        phone = a.Str("Phone"),
                    };
                }

                foreach (var (item, path) in root.Array("OrderItems", "$", required: false))
                {
                    order.lines.Add(OrderEvents.Line(shops, shop, item.Str("OrderItemId") ?? throw new MalformedDeliveryException($"{path}.OrderItemId is missing"),
                        item.Str("SellerSKU"), item.Int("QuantityOrdered", path), item.Prop("ItemPrice")?.Decimal("Amount", path + ".ItemPrice") is { } total && item.Int("QuantityOrdered", path) is > 0 and var q ? total / q : null,
                        buyerRequestedCancel: item.Prop("BuyerRequestedCancel")?.Str("IsBuyerRequestedCancel") == "true"));
                }

                // Placed and updated carry the whole order and the pool processor treats them alike; a poll cannot tell
                // whether the notification for this order arrived, so it reports the state it saw.
                return Receiving.Accepted(Source, shop, deliveryId, PolledEventType, [OrderEvents.Updated(context, order, occurredAt)], orderId);
            });
        }
        catch (MalformedDeliveryException e)
        {
            return DeliveryResult.Rejected(DeliveryStatus.Malformed, Source, null, fallbackId, PolledEventType, e.Message);
        }
    }
}
