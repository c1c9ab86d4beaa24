using Fulfillment.Schemas.Common;

namespace Fulfillment.Connectors.Channels;

/// <summary>Turns one channel's deliveries into a verdict plus normalized events. Pure: no I/O, so the same code
/// serves the HTTP endpoint, a queue adapter, and re-normalization of stored raw deliveries.</summary>
public interface IChannelReceiver
{
    /// <summary>Sender name used in raw records, metrics and source_system (e.g. shopify).</summary>
    string Source { get; }

    Channel Channel { get; }

    /// <summary>Identifies the shop, checks the signature over the raw bytes (unless <paramref name="verifySignature"/>
    /// is false because the transport already authenticated the sender or the delivery was verified when stored),
    /// and normalizes the body.</summary>
    DeliveryResult Receive(InboundDelivery delivery, bool verifySignature = true);
}

/// <summary>Shared steps of the receivers.</summary>
internal static class Receiving
{
    /// <summary>Runs <paramref name="normalize"/> and turns a shape error into a 400 verdict.</summary>
    public static DeliveryResult Normalize(string source, ChannelShop shop, string deliveryId, string? eventType,
        Func<DeliveryResult> normalize)
    {
        try
        {
            return normalize();
        }
        catch (MalformedDeliveryException e)
        {
            return DeliveryResult.Rejected(DeliveryStatus.Malformed, source, shop, deliveryId, eventType, e.Message);
        }
        catch (ArgumentOutOfRangeException e)
        {
            // Money out of the schema's decimal(18,4) range and similar value errors are bad input, not our failure.
            return DeliveryResult.Rejected(DeliveryStatus.Malformed, source, shop, deliveryId, eventType, e.Message);
        }
    }

    public static DeliveryResult Accepted(string source, ChannelShop shop, string deliveryId, string? eventType,
        IReadOnlyList<Schemas.Orders.OrderEvent> events, string? correlationId = null, OrderFetchRequest? fetch = null) =>
        new(DeliveryStatus.Accepted, source, shop, deliveryId, eventType, null, events, correlationId, fetch);
}
