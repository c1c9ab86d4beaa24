using System.Text.Json;
using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.Ingest;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>One stored delivery: a row of <c>raw_deliveries</c>.</summary>
public sealed record RawDeliveryRow(
    Guid Id,
    string Source,
    string DeliveryId,
    bool Accepted,
    DeliveryStatus Status,
    string? ShopId,
    string? PoolId,
    IngestTransport Transport,
    string? EventType,
    string Method,
    string Path,
    string? RouteShop,
    string? ContentType,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    DateTime ReceivedAt,
    bool SignatureVerified,
    string? RejectionReason)
{
    public static RawDeliveryRow From(InboundDelivery delivery, DeliveryResult result)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentNullException.ThrowIfNull(result);
        return new RawDeliveryRow(
            Guid.CreateVersion7(), result.Source, result.DeliveryId, result.Accepted, result.Status, result.Shop?.ShopId, result.Shop?.PoolId,
            delivery.Transport, result.EventType, delivery.Method, delivery.Path, delivery.RouteShop, delivery.ContentType,
            delivery.Headers, delivery.Body.ToArray(), delivery.ReceivedAt, result.SignatureVerified, result.Reason);
    }

    /// <summary>The delivery as it arrived, for re-normalization.</summary>
    public InboundDelivery ToDelivery() => new(Transport, Method, Path, RouteShop, Headers, ContentType, Body, ReceivedAt);

    /// <summary>Event id of the raw record.</summary>
    public string RawEventId => Accepted ? RawEventIds.Accepted(Source, DeliveryId) : RawEventIds.Rejected(Source, Id);

    internal string HeadersJson() => JsonSerializer.Serialize(Headers.Select(h => new[] { h.Key, h.Value }));

    internal static List<KeyValuePair<string, string>> ParseHeaders(string json) =>
        [.. (JsonSerializer.Deserialize<string[][]>(json) ?? []).Select(h => new KeyValuePair<string, string>(h[0], h[1]))];
}
