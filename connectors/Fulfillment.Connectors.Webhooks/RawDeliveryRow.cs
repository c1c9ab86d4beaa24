using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
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
            delivery.Headers, WholeArrayOrCopy(delivery.Body), delivery.ReceivedAt, result.SignatureVerified, result.Reason);
    }

    /// <summary>The body's own array when the memory covers all of it (the HTTP path reads each body into an array of
    /// its exact length, never reused), else a copy.</summary>
    private static byte[] WholeArrayOrCopy(ReadOnlyMemory<byte> body) =>
        MemoryMarshal.TryGetArray(body, out var segment) && segment is { Array: { } array, Offset: 0 } && segment.Count == array.Length
            ? array
            : body.ToArray();

    /// <summary>The delivery as it arrived, for re-normalization.</summary>
    public InboundDelivery ToDelivery() => new(Transport, Method, Path, RouteShop, Headers, ContentType, Body, ReceivedAt);

    /// <summary>Event id of the raw record.</summary>
    public string RawEventId => Accepted ? RawEventIds.Accepted(Source, DeliveryId) : RawEventIds.Rejected(Source, Id);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _headersBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _headersWriter;

    /// <summary>The headers as a JSON array of [name, value] pairs (the <c>headers</c> column).</summary>
    internal string HeadersJson()
    {
        // Written directly rather than serialising a projection, with this thread's buffer and writer reused: this runs
        // for every stored delivery.
        var buffer = _headersBuffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = _headersWriter ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        writer.WriteStartArray();
        foreach (var (name, value) in Headers)
        {
            writer.WriteStartArray();
            writer.WriteStringValue(name);
            writer.WriteStringValue(value);
            writer.WriteEndArray();
        }

        writer.WriteEndArray();
        writer.Flush();

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static List<KeyValuePair<string, string>> ParseHeaders(string json) =>
        [.. (JsonSerializer.Deserialize<string[][]>(json) ?? []).Select(h => new KeyValuePair<string, string>(h[0], h[1]))];
}
