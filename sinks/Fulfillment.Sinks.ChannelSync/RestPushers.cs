using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Amazon SP-API <c>confirmShipment</c>, one call per package. The packageReferenceId is derived from the
/// shipment id, so a retry (or a replay) edits the same package instead of adding one.</summary>
public sealed class AmazonPusher(HttpClient http) : IChannelPusher
{
    public Channel Channel => Channel.Amazon;

    public PushOperation ShipmentOperation => PushOperation.UpdateTracking;

    /// <summary>A positive number (Amazon accepts only numeric package reference ids) that is a pure function of the shipment id.</summary>
    public static string PackageReferenceId(string shipmentId) =>
        (BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(shipmentId)), 0) % 1_000_000_000_000UL + 1).ToString(CultureInfo.InvariantCulture);

    public async Task<PushResult> PushShipmentAsync(ChannelEndpoint shop, ShipmentPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var body = new JsonObject
        {
            ["marketplaceId"] = shop.MarketplaceId,
            ["packageDetail"] = new JsonObject
            {
                ["packageReferenceId"] = PackageReferenceId(push.ShipmentId),
                ["carrierCode"] = push.Carrier,
                ["shippingMethod"] = push.Service,
                ["trackingNumber"] = push.TrackingNumber,
                ["shipDate"] = push.ShippedAt.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
                ["orderItems"] = new JsonArray([.. push.Lines.Select(l => (JsonNode)new JsonObject { ["orderItemId"] = l.LineId, ["quantity"] = l.Quantity })]),
            },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(shop.BaseUrl!, $"/orders/v0/orders/{Uri.EscapeDataString(push.ChannelOrderId)}/shipmentConfirmation"))
        {
            Content = JsonContent.Create(body),
        };
        request.Headers.Add("x-amz-access-token", shop.ResolveToken());
        using var response = await http.SendAsync(request, cancellationToken);
        return await PushResult.FromResponseAsync(response, cancellationToken);
    }

    public Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken) =>
        // MFN quantities go through the Listings Items / Feeds APIs, not built yet.
        Task.FromResult(new PushResult(PushStatus.Rejected, null, "Amazon inventory push is not supported yet (Listings/Feeds API)"));
}

/// <summary>WooCommerce REST v3: order status <c>completed</c> with tracking meta (what tracking plugins read) plus a
/// customer note; stock via the product's <c>stock_quantity</c>. The PUT is idempotent; the note is only added when no
/// note already carries the tracking number.</summary>
public sealed class WooCommercePusher(HttpClient http) : IChannelPusher
{
    public Channel Channel => Channel.WooCommerce;

    public PushOperation ShipmentOperation => PushOperation.UpdateOrderStatus;

    public async Task<PushResult> PushShipmentAsync(ChannelEndpoint shop, ShipmentPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var order = $"/wp-json/wc/v3/orders/{Uri.EscapeDataString(push.ChannelOrderId)}";
        var update = new JsonObject
        {
            ["status"] = "completed",
            ["meta_data"] = new JsonArray(
                new JsonObject { ["key"] = "_tracking_provider", ["value"] = push.Carrier },
                new JsonObject { ["key"] = "_tracking_number", ["value"] = push.TrackingNumber },
                new JsonObject { ["key"] = "_tracking_url", ["value"] = push.TrackingUrl }),
        };
        var put = await SendAsync(shop, HttpMethod.Put, order, update, cancellationToken);
        if (put.Result.Status != PushStatus.Pushed)
        {
            return put.Result;
        }

        var notes = await SendAsync(shop, HttpMethod.Get, order + "/notes", null, cancellationToken);
        if (notes.Result.Status != PushStatus.Pushed)
        {
            return notes.Result;
        }

        if (push.TrackingNumber is { } number && notes.Body is JsonArray existing && existing.Any(n => ((string?)n?["note"])?.Contains(number, StringComparison.Ordinal) == true))
        {
            return PushResult.Ok(put.Result.HttpStatus ?? 200);
        }

        var note = new JsonObject
        {
            ["note"] = $"Shipped with {push.Carrier}{(push.Service is null ? "" : " " + push.Service)}: tracking {push.TrackingNumber}{(push.TrackingUrl is null ? "" : " " + push.TrackingUrl)}",
            ["customer_note"] = true,
        };
        return (await SendAsync(shop, HttpMethod.Post, order + "/notes", note, cancellationToken)).Result;
    }

    public async Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var found = await SendAsync(shop, HttpMethod.Get, $"/wp-json/wc/v3/products?sku={Uri.EscapeDataString(push.Sku)}", null, cancellationToken);
        if (found.Result.Status != PushStatus.Pushed)
        {
            return found.Result;
        }

        if (found.Body is not JsonArray { Count: > 0 } products)
        {
            return new PushResult(PushStatus.Rejected, found.Result.HttpStatus, $"no product with SKU {push.Sku}");
        }

        var product = products[0]!;
        var parent = (int?)product["parent_id"] ?? 0;
        var path = parent > 0 ? $"/wp-json/wc/v3/products/{parent}/variations/{(int)product["id"]!}" : $"/wp-json/wc/v3/products/{(int)product["id"]!}";
        return (await SendAsync(shop, HttpMethod.Put, path, new JsonObject { ["manage_stock"] = true, ["stock_quantity"] = push.Available }, cancellationToken)).Result;
    }

    private async Task<(PushResult Result, JsonNode? Body)> SendAsync(ChannelEndpoint shop, HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(shop.BaseUrl!, path));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(shop.ResolveToken() ?? "")));
        using var response = await http.SendAsync(request, cancellationToken);
        var result = await PushResult.FromResponseAsync(response, cancellationToken);
        return (result, result.Status == PushStatus.Pushed ? JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken) is { Length: > 0 } t ? t : "null") : null);
    }
}

/// <summary>eBay Sell Fulfillment <c>shipping_fulfillment</c>, one per package; existing fulfillments are read first so a
/// retried package is not created twice.</summary>
public sealed class EbayPusher(HttpClient http) : IChannelPusher
{
    public Channel Channel => Channel.Ebay;

    public PushOperation ShipmentOperation => PushOperation.CreateFulfillment;

    public async Task<PushResult> PushShipmentAsync(ChannelEndpoint shop, ShipmentPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var path = $"/sell/fulfillment/v1/order/{Uri.EscapeDataString(push.ChannelOrderId)}/shipping_fulfillment";
        using (var list = Request(shop, HttpMethod.Get, path))
        using (var response = await http.SendAsync(list, cancellationToken))
        {
            var result = await PushResult.FromResponseAsync(response, cancellationToken);
            if (result.Status != PushStatus.Pushed)
            {
                return result;
            }

            var existing = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["fulfillments"] as JsonArray;
            if (push.TrackingNumber is { } number && existing?.Any(f => (string?)f?["shipmentTrackingNumber"] == number) == true)
            {
                return new PushResult(PushStatus.AlreadyPushed, (int)response.StatusCode);
            }
        }

        using var create = Request(shop, HttpMethod.Post, path);
        create.Content = JsonContent.Create(new JsonObject
        {
            ["lineItems"] = new JsonArray([.. push.Lines.Select(l => (JsonNode)new JsonObject { ["lineItemId"] = l.LineId, ["quantity"] = l.Quantity })]),
            ["shippedDate"] = push.ShippedAt.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["shippingCarrierCode"] = push.Carrier,
            ["trackingNumber"] = push.TrackingNumber,
        });
        using var created = await http.SendAsync(create, cancellationToken);
        return await PushResult.FromResponseAsync(created, cancellationToken);
    }

    public Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken) =>
        Task.FromResult(new PushResult(PushStatus.Rejected, null, "eBay inventory push is not supported yet (Inventory API)"));

    private static HttpRequestMessage Request(ChannelEndpoint shop, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(shop.BaseUrl!, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", shop.ResolveToken());
        return request;
    }
}
