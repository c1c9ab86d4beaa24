using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace Fulfillment.Demo;

/// <summary>The hub's REST API (ops/Fulfillment.Api) as the demo's warehouse staff use it: locations, receipts,
/// transfers, ship confirmations. Every call carries an Idempotency-Key, so a retried call never books twice.</summary>
public sealed class HubApi(HttpClient http, string apiKey) : IDisposable
{
    public sealed record Line(string Sku, int Quantity);

    public sealed record ReceivedLine(string Sku, int ShippedQuantity, int ReceivedQuantity);

    public sealed record ShipmentLine(string LineId, string Sku, int Quantity);

    public sealed record Shipment(
        string ShipmentId, string OrderId, string Channel, string ShopId, string ChannelOrderId, string LocationId,
        string Carrier, string Service, string TrackingNumber, string TrackingUrl, IReadOnlyList<ShipmentLine> Lines);

    public Task<int> UpsertLocationAsync(string pool, string locationId, string name, string kind, string country,
        IReadOnlyList<string> countriesServed, int priority, string? provider, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, $"/pools/{E(pool)}/locations/{E(locationId)}", $"demo-location-{pool}-{locationId}-v1",
            new { name, kind, active = true, countryCode = country, countriesServed, priority, provider }, ct);

    /// <summary>Which locations may serve <paramref name="channel"/> (Avro Channel symbol) in the pool, for every shop
    /// of the channel.</summary>
    public Task<int> SetChannelLocationsAsync(string pool, string channel, IReadOnlyList<string> locationIds, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, $"/pools/{E(pool)}/channel-locations", $"demo-channel-locations-{pool}-{channel}-v1",
            new { channel, shopId = (string?)null, locationIds }, ct);

    public Task<int> ReceiveAsync(string pool, string locationId, string receiptId, IReadOnlyList<Line> lines, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"/pools/{E(pool)}/stock/receive", $"demo-{receiptId}", new { locationId, receiptId, lines }, ct);

    public Task<int> RequestTransferAsync(string pool, string transferId, string from, string to, IReadOnlyList<Line> lines, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"/pools/{E(pool)}/transfers", $"demo-{transferId}-request",
            new { transferId, fromLocationId = from, toLocationId = to, lines }, ct);

    public Task<int> ShipTransferAsync(string pool, string transferId, string from, string to, IReadOnlyList<Line> lines, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"/pools/{E(pool)}/transfers/{E(transferId)}/ship", $"demo-{transferId}-ship",
            new { fromLocationId = from, toLocationId = to, lines, carrier = "FreightCo", trackingNumber = $"FC{transferId.GetHashCode(StringComparison.Ordinal) & 0x7fffffff}" }, ct);

    public Task<int> ReceiveTransferAsync(string pool, string transferId, string from, string to, IReadOnlyList<ReceivedLine> lines, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"/pools/{E(pool)}/transfers/{E(transferId)}/receive", $"demo-{transferId}-receive",
            new { fromLocationId = from, toLocationId = to, lines }, ct);

    public Task<int> ConfirmShipmentAsync(string pool, Shipment shipment, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, $"/pools/{E(pool)}/shipments", $"demo-{shipment?.ShipmentId}", shipment, ct);

    /// <returns>The HTTP status (202 accepted), or 0 when the API could not be reached. Unreachable and 5xx answers are
    /// retried for about 30 s: the key makes the retry safe, and a drill restarts things under the demo's feet.</returns>
    private async Task<int> SendAsync(HttpMethod method, string path, string idempotencyKey, object? body, CancellationToken ct)
    {
        var status = 0;
        for (var attempt = 0; attempt < 12; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 << Math.Min(attempt, 5))), ct);
            }

            using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body, options: JsonOptions) };
            request.Headers.Add("X-Api-Key", apiKey);
            request.Headers.Add("Idempotency-Key", idempotencyKey);
            try
            {
                using var response = await http.SendAsync(request, ct);
                status = (int)response.StatusCode;
            }
            catch (HttpRequestException)
            {
                status = 0;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                status = 0;
            }

            if (status is > 0 and < 500)
            {
                return status;
            }
        }

        return status;
    }

    private static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static string E(string s) => Uri.EscapeDataString(s);

    public void Dispose() => http.Dispose();
}
