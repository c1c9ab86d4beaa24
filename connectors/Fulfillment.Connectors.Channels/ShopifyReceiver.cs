using System.Text.Json;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>Shopify webhooks: the shop from <c>X-Shopify-Shop-Domain</c>, <c>X-Shopify-Hmac-Sha256</c> over the raw
/// body, dedupe on <c>X-Shopify-Event-Id</c> (same across retries of one event; without it, resource id + <c>updated_at</c>),
/// body = REST Order.</summary>
public sealed class ShopifyReceiver(ShopDirectory shops) : IChannelReceiver
{
    public const string SourceName = "shopify";

    public string Source => SourceName;

    public Channel Channel => Channel.Shopify;

    public DeliveryResult Receive(InboundDelivery delivery, bool verifySignature = true)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var topic = delivery.Header("X-Shopify-Topic");
        // X-Shopify-Webhook-Id is new on every retry, so it cannot stand in for a missing event id: then the resource's
        // id + updated_at (one state of it) is the key, taken from the body once it is verified and parsed.
        var eventId = delivery.Header("X-Shopify-Event-Id");
        var deliveryId = eventId ?? Signatures.BodyHash(delivery.Body.Span);
        var domain = delivery.Header("X-Shopify-Shop-Domain");
        if (shops.Find(Channel.Shopify, domain) is not { } shop)
        {
            return DeliveryResult.Rejected(DeliveryStatus.UnknownShop, Source, null, deliveryId, topic,
                domain is null ? "X-Shopify-Shop-Domain is missing" : $"shop '{domain}' is not configured", domain);
        }

        if (verifySignature && !Signatures.VerifyBase64HmacSha256(shop.Secret, delivery.Body.Span, delivery.Header("X-Shopify-Hmac-Sha256")))
        {
            return DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, shop, deliveryId, topic, "X-Shopify-Hmac-Sha256 is missing or does not match the body");
        }

        return Receiving.Normalize(Source, shop, deliveryId, topic, () => Normalize(delivery, shop, eventId is null ? null : deliveryId, topic));
    }

    /// <summary>The dedupe key without an event id: <c>{resource}:{id}:{updated_at}</c>, or the body hash for bodies
    /// without both (orders/delete sends only the id; the same body again is the same hash).</summary>
    public static string ResourceStateKey(string topic, JsonElement root, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var slash = topic.IndexOf('/', StringComparison.Ordinal);
        return root.OptionalId("id") is { } id && root.Str("updated_at") is { } updated
            ? $"{(slash > 0 ? topic[..slash] : topic)}:{id}:{updated}"
            : Signatures.BodyHash(body);
    }

    private DeliveryResult Normalize(InboundDelivery delivery, ChannelShop shop, string? eventId, string? topic)
    {
        if (string.IsNullOrEmpty(topic))
        {
            throw new MalformedDeliveryException("X-Shopify-Topic is missing");
        }

        using var doc = Json.Parse(delivery.Body);
        var deliveryId = eventId ?? ResourceStateKey(topic, doc.RootElement, delivery.Body.Span);
        if (!topic.StartsWith("orders/", StringComparison.Ordinal))
        {
            // Kept raw; other topics (products, refunds, app) have no normalized form yet.
            return Receiving.Accepted(Source, shop, deliveryId, topic, []);
        }

        var root = doc.RootElement;
        var context = new DeliveryContext(Source, deliveryId, shop, delivery.ReceivedAt);
        var id = root.Id("id", "$");
        var occurredAt = root.Time("updated_at", "$")
            ?? (DateTimeOffset.TryParse(delivery.Header("X-Shopify-Triggered-At"), System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal, out var triggered) ? triggered.UtcDateTime : delivery.ReceivedAt);
        var orderId = OrderEvents.OrderId(Source, shop.ShopId, id);

        if (topic == "orders/delete")
        {
            return Receiving.Accepted(Source, shop, deliveryId, topic, [OrderEvents.Cancelled(context, id, "deleted", occurredAt)], orderId);
        }

        if (topic == "orders/cancelled" || root.Prop("cancelled_at") is not null)
        {
            return Receiving.Accepted(Source, shop, deliveryId, topic, [OrderEvents.Cancelled(context, id, root.Str("cancel_reason"), occurredAt)], orderId);
        }

        var order = OrderEvents.NewOrder(context, id, root.RequiredTime("created_at", "$"));
        order.order_number = root.Str("name") ?? root.OptionalId("order_number");
        order.currency = root.Str("currency");
        order.channel_status = root.Str("fulfillment_status") is { } fs ? $"{root.Str("financial_status")}/{fs}" : root.Str("financial_status");
        foreach (var (item, path) in root.Array("line_items", "$", required: true))
        {
            var quantity = item.OptionalInt("current_quantity", path) ?? item.Int("quantity", path);
            if (quantity < 0)
            {
                throw new MalformedDeliveryException($"{path}.quantity is negative");
            }

            order.lines.Add(OrderEvents.Line(shops, shop, item.Id("id", path), item.Str("sku"), quantity, item.Decimal("price", path),
                requiresShipping: item.Bool("requires_shipping", true),
                channelProductId: item.OptionalId("variant_id"),
                giftCard: item.Bool("gift_card", false)));
        }

        if (root.Array("shipping_lines", "$", required: false).FirstOrDefault() is { Item.ValueKind: JsonValueKind.Object } shipping)
        {
            var code = shipping.Item.Str("code") ?? shipping.Item.Str("title");
            order.requested_service_code = code;
            order.requested_service_level = OrderEvents.ServiceLevelOf(shipping.Item.Str("title") + " " + shipping.Item.Str("code"));
        }

        if (root.Prop("shipping_address") is { ValueKind: JsonValueKind.Object } a)
        {
            order.shipping_address = new Address
            {
                name = a.Str("name") ?? JoinName(a.Str("first_name"), a.Str("last_name")),
                company = a.Str("company"),
                line1 = a.Str("address1"),
                line2 = a.Str("address2"),
                city = a.Str("city"),
                region = a.Str("province_code") ?? a.Str("province"),
                postal_code = a.Str("zip"),
                country_code = a.Str("country_code")?.ToUpperInvariant(),
                phone = a.Str("phone"),
                latitude = a.Double("latitude"),
                longitude = a.Double("longitude"),
            };
        }

        var evt = topic == "orders/create" ? OrderEvents.Placed(context, order, occurredAt) : OrderEvents.Updated(context, order, occurredAt);
        return Receiving.Accepted(Source, shop, deliveryId, topic, [evt], orderId);
    }

    private static string? JoinName(string? first, string? last) =>
        string.Join(' ', new[] { first, last }.Where(s => s is not null)) is { Length: > 0 } name ? name : null;
}
