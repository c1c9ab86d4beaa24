using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>What a receiver made of a delivery.</summary>
public enum DeliveryStatus
{
    /// <summary>Signature verified and body understood; may carry zero or more normalized events.</summary>
    Accepted,
    /// <summary>A sender's connectivity check (WooCommerce's <c>webhook_id=N</c> creation ping): answered 200, kept, not normalized.</summary>
    Ping,
    /// <summary>The shop is not configured (404).</summary>
    UnknownShop,
    /// <summary>Signature missing or wrong (401).</summary>
    Unauthorized,
    /// <summary>Signature verified but the body cannot be understood (400).</summary>
    Malformed,
}

/// <summary>The outcome of receiving one delivery: status, dedupe key, and the normalized events when accepted.</summary>
public sealed record DeliveryResult(
    DeliveryStatus Status,
    string Source,
    ChannelShop? Shop,
    string DeliveryId,
    string? EventType,
    string? Reason,
    IReadOnlyList<OrderEvent> Events,
    string? CorrelationId = null,
    OrderFetchRequest? Fetch = null,
    string? ClaimedShop = null)
{
    /// <summary>Whether the delivery counts for deduplication: only verified, understood deliveries do, so a forged or
    /// broken delivery can never shadow a genuine one with the same id.</summary>
    public bool Accepted => Status == DeliveryStatus.Accepted;

    /// <summary>Whether the sender proved who it is.</summary>
    public bool SignatureVerified => Status is DeliveryStatus.Accepted or DeliveryStatus.Malformed;

    /// <param name="claimedShop">For <see cref="DeliveryStatus.UnknownShop"/>: the shop the sender named (rate limits key on it).</param>
    public static DeliveryResult Rejected(DeliveryStatus status, string source, ChannelShop? shop, string deliveryId, string? eventType, string reason,
        string? claimedShop = null) =>
        new(status, source, shop, deliveryId, eventType, reason, [], ClaimedShop: claimedShop);
}

/// <summary>A notification that names an order without carrying it (TikTok Shop): the full order must be fetched from
/// the channel's API before it can be normalized.</summary>
public sealed record OrderFetchRequest(string ChannelOrderId, string ChannelStatus, DateTime OccurredAt);
