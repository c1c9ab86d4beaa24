using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>WooCommerce webhooks: the shop from the URL (<c>/webhooks/woocommerce/{shop}</c>), <c>X-WC-Webhook-Signature</c>
/// over the raw body, dedupe on resource id + <c>date_modified_gmt</c> (<c>X-WC-Webhook-Delivery-ID</c> changes per
/// send), body = REST v3 order. The creation ping (form <c>webhook_id=N</c>, unsigned) must get 200.</summary>
public sealed partial class WooCommerceReceiver(ShopDirectory shops) : IChannelReceiver
{
    public const string SourceName = "woocommerce";

    public string Source => SourceName;

    public Channel Channel => Channel.WooCommerce;

    public DeliveryResult Receive(InboundDelivery delivery, bool verifySignature = true)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        // The reconciliation poll fetched it over the authenticated REST API itself.
        verifySignature &= delivery.Transport != Schemas.Ingest.IngestTransport.Poll;
        var topic = delivery.Header("X-WC-Webhook-Topic");
        var provisionalId = delivery.Header("X-WC-Webhook-Delivery-ID") is { } d ? $"delivery:{d}" : Signatures.BodyHash(delivery.Body.Span);
        if (shops.Find(Channel.WooCommerce, delivery.RouteShop) is not { } shop)
        {
            return DeliveryResult.Rejected(DeliveryStatus.UnknownShop, Source, null, provisionalId, topic, $"shop '{delivery.RouteShop}' is not configured", delivery.RouteShop);
        }

        if (delivery.Body.Length < 64 && PingBody().Match(Encoding.UTF8.GetString(delivery.Body.Span)) is { Success: true } ping)
        {
            return new DeliveryResult(DeliveryStatus.Ping, Source, shop, $"ping:{ping.Groups[1].Value}:{provisionalId}", "webhook.ping", null, []);
        }

        if (verifySignature && !Signatures.VerifyBase64HmacSha256(shop.Secret, delivery.Body.Span, delivery.Header("X-WC-Webhook-Signature")))
        {
            return DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, shop, provisionalId, topic, "X-WC-Webhook-Signature is missing or does not match the body");
        }

        return Receiving.Normalize(Source, shop, provisionalId, topic, () => Normalize(delivery, shop, topic));
    }

    private DeliveryResult Normalize(InboundDelivery delivery, ChannelShop shop, string? topic)
    {
        var dot = topic?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (topic is null || dot < 1)
        {
            throw new MalformedDeliveryException("X-WC-Webhook-Topic is missing or not resource.event");
        }

        var resource = topic[..dot];
        var action = topic[(dot + 1)..];
        using var doc = Json.Parse(delivery.Body);
        var root = doc.RootElement;
        var id = root.Id("id", "$");
        var modified = root.Str("date_modified_gmt");
        if (modified is null && action != "deleted")
        {
            throw new MalformedDeliveryException("$.date_modified_gmt is missing (it is half of the dedupe key)");
        }

        // The id + modification time names one state of the resource: a repeat of it is a duplicate whoever sent it.
        var deliveryId = $"{resource}:{id}:{modified ?? action}";
        if (resource != "order")
        {
            return Receiving.Accepted(Source, shop, deliveryId, topic, []);
        }

        var context = new DeliveryContext(Source, deliveryId, shop, delivery.ReceivedAt);
        var orderId = OrderEvents.OrderId(Source, shop.ShopId, id);
        var occurredAt = root.Time("date_modified_gmt", "$") ?? delivery.ReceivedAt;
        var status = root.Str("status");
        if (action == "deleted")
        {
            return Receiving.Accepted(Source, shop, deliveryId, topic, [OrderEvents.Cancelled(context, id, "deleted", occurredAt)], orderId);
        }

        if (status == "checkout-draft")
        {
            // Drafts are carts in checkout, not orders (facts/wire-formats.md): kept raw, not normalized.
            return Receiving.Accepted(Source, shop, deliveryId, topic, [], orderId);
        }

        if (status is "cancelled" or "refunded" or "failed" or "trash")
        {
            return Receiving.Accepted(Source, shop, deliveryId, topic, [OrderEvents.Cancelled(context, id, status, occurredAt)], orderId);
        }

        var order = OrderEvents.NewOrder(context, id, root.RequiredTime("date_created_gmt", "$"));
        order.order_number = root.OptionalId("number");
        order.currency = root.Str("currency");
        order.channel_status = status;
        foreach (var (item, path) in root.Array("line_items", "$", required: true))
        {
            var quantity = item.Int("quantity", path);
            if (quantity < 0)
            {
                throw new MalformedDeliveryException($"{path}.quantity is negative");
            }

            var variation = item.OptionalId("variation_id");
            order.lines.Add(OrderEvents.Line(shops, shop, item.Id("id", path), item.Str("sku"), quantity, item.Decimal("price", path),
                channelProductId: variation is null or "0" ? item.OptionalId("product_id") : variation));
        }

        if (root.Array("shipping_lines", "$", required: false).FirstOrDefault() is { Item.ValueKind: JsonValueKind.Object } shipping)
        {
            order.requested_service_code = shipping.Item.Str("method_id") ?? shipping.Item.Str("method_title");
            order.requested_service_level = OrderEvents.ServiceLevelOf(shipping.Item.Str("method_title") + " " + shipping.Item.Str("method_id"));
        }

        if (root.Prop("shipping") is { ValueKind: JsonValueKind.Object } a)
        {
            var name = string.Join(' ', new[] { a.Str("first_name"), a.Str("last_name") }.Where(s => s is not null));
            order.shipping_address = new Address
            {
                name = name.Length > 0 ? name : null,
                company = a.Str("company"),
                line1 = a.Str("address_1"),
                line2 = a.Str("address_2"),
                city = a.Str("city"),
                region = a.Str("state"),
                postal_code = a.Str("postcode"),
                country_code = a.Str("country")?.ToUpperInvariant(),
                phone = a.Str("phone"),
            };
        }

        var evt = action == "created" ? OrderEvents.Placed(context, order, occurredAt) : OrderEvents.Updated(context, order, occurredAt);
        return Receiving.Accepted(Source, shop, deliveryId, topic, [evt], orderId);
    }

    [GeneratedRegex(@"^webhook_id=(\d+)$")]
    private static partial Regex PingBody();
}
