using System.Text.Json;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Connectors.Channels;

/// <summary>TikTok Shop webhooks (community-documented): body <c>{type, tts_notification_id, shop_id, timestamp,
/// data{order_id, order_status, update_time}}</c>, <c>Authorization</c> = hex(HMAC-SHA256(app secret, app key + body)),
/// dedupe on <c>tts_notification_id</c>. The notification names the order without its lines, so status changes other
/// than cancellation ask for the order to be fetched (<see cref="DeliveryResult.Fetch"/>).</summary>
public sealed class TikTokShopReceiver(ShopDirectory shops) : IChannelReceiver
{
    public const string SourceName = "tiktok-shop";

    /// <summary>Notification type 1: order status change.</summary>
    public const int OrderStatusChange = 1;

    public string Source => SourceName;

    public Channel Channel => Channel.TikTokShop;

    public DeliveryResult Receive(InboundDelivery delivery, bool verifySignature = true)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var signature = delivery.Header("Authorization");
        JsonDocument? doc = null;
        string? parseError = null;
        try
        {
            doc = Json.Parse(delivery.Body);
        }
        catch (MalformedDeliveryException e)
        {
            parseError = e.Message;
        }

        using (doc)
        {
            var root = doc?.RootElement;
            var deliveryId = root?.OptionalId("tts_notification_id") ?? Signatures.BodyHash(delivery.Body.Span);
            var shopId = root?.OptionalId("shop_id");
            var eventType = root?.OptionalId("type");
            if (root is null || shopId is null)
            {
                // The shop is named inside the body: without it, only a signature from one of our apps makes this a
                // malformed delivery rather than an unauthenticated one.
                var signed = !verifySignature || shops.ShopsOf(Channel.TikTokShop)
                    .Any(s => Signatures.VerifyTikTok(s.Secret, s.AppKey ?? "", delivery.Body.Span, signature));
                return signed
                    ? DeliveryResult.Rejected(DeliveryStatus.Malformed, Source, null, deliveryId, eventType, parseError ?? "$.shop_id is missing")
                    : DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, null, deliveryId, eventType, "Authorization is missing or does not match the body");
            }

            if (shops.Find(Channel.TikTokShop, shopId) is not { } shop)
            {
                return DeliveryResult.Rejected(DeliveryStatus.UnknownShop, Source, null, deliveryId, eventType, $"shop '{shopId}' is not configured", shopId);
            }

            if (verifySignature && !Signatures.VerifyTikTok(shop.Secret, shop.AppKey ?? "", delivery.Body.Span, signature))
            {
                return DeliveryResult.Rejected(DeliveryStatus.Unauthorized, Source, shop, deliveryId, eventType, "Authorization is missing or does not match the body");
            }

            return Receiving.Normalize(Source, shop, deliveryId, eventType, () => Normalize(root.Value, delivery, shop, eventType));
        }
    }

    private DeliveryResult Normalize(JsonElement root, InboundDelivery delivery, ChannelShop shop, string? eventType)
    {
        var deliveryId = root.Id("tts_notification_id", "$");
        var type = root.Int("type", "$");
        if (type != OrderStatusChange)
        {
            return Receiving.Accepted(Source, shop, deliveryId, eventType, []);
        }

        var data = root.RequiredObject("data", "$");
        var channelOrderId = data.Id("order_id", "$.data");
        var status = data.Str("order_status") ?? throw new MalformedDeliveryException("$.data.order_status is missing");
        var updated = data.OptionalInt("update_time", "$.data") ?? root.OptionalInt("timestamp", "$");
        var occurredAt = updated is { } seconds ? DateTime.UnixEpoch.AddSeconds(seconds) : delivery.ReceivedAt;
        var context = new DeliveryContext(Source, deliveryId, shop, delivery.ReceivedAt);
        var orderId = OrderEvents.OrderId(Source, shop.ShopId, channelOrderId);
        return status switch
        {
            "CANCELLED" => Receiving.Accepted(Source, shop, deliveryId, eventType, [OrderEvents.Cancelled(context, channelOrderId, status, occurredAt)], orderId),
            // Not paid yet: nothing to allocate until it becomes AWAITING_SHIPMENT.
            "UNPAID" => Receiving.Accepted(Source, shop, deliveryId, eventType, [], orderId),
            _ => Receiving.Accepted(Source, shop, deliveryId, eventType, [], orderId, new OrderFetchRequest(channelOrderId, status, occurredAt)),
        };
    }
}
