using Fulfillment.Schemas.Ingest;

namespace Fulfillment.Connectors.Channels;

/// <summary>A delivery exactly as it arrived: the raw body bytes (signatures are computed over them) and headers.</summary>
/// <param name="Transport">How it arrived.</param>
/// <param name="Method">HTTP method (or "QUEUE").</param>
/// <param name="Path">Request path (or the queue name).</param>
/// <param name="RouteShop">Shop key taken from the URL, for channels that identify the shop by route (WooCommerce).</param>
/// <param name="Headers">Headers in arrival order; names may repeat.</param>
/// <param name="ContentType">Content-Type header.</param>
/// <param name="Body">The body, byte for byte.</param>
/// <param name="ReceivedAt">When the hub received it (UTC).</param>
public sealed record InboundDelivery(
    IngestTransport Transport,
    string Method,
    string Path,
    string? RouteShop,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    string? ContentType,
    ReadOnlyMemory<byte> Body,
    DateTime ReceivedAt)
{
    /// <summary>The first value of a header (case-insensitive name), or null.</summary>
    public string? Header(string name)
    {
        foreach (var (key, value) in Headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }
}
