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
    /// <summary>The fulfillment channel code of merchant-fulfilled (MFN) offers.</summary>
    private const string MerchantFulfilled = "DEFAULT";

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

    /// <summary>
    /// MFN quantity through the Listings Items API (2021-08-01): read the listing's fulfillment availability, then patch
    /// with the <c>merge</c> operation on <c>fulfillment_availability</c> selected by <c>fulfillment_channel_code=DEFAULT</c>
    /// (merchant-fulfilled), which changes that entry's quantity only. A listing fulfilled by Amazon (any other channel
    /// code, e.g. AMAZON_NA) is left alone: FBA stock is Amazon's. Chosen over JSON_LISTINGS_FEED because a coalesced push
    /// is one SKU at a time and the synchronous answer (ACCEPTED / INVALID with issues) is the outcome we record; the
    /// patch rate (5 rps, burst 5) is far above what coalescing leaves.
    /// </summary>
    public async Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var item = ListingPath(shop.ShopId!, push.Sku);
        var marketplace = Uri.EscapeDataString(shop.MarketplaceId ?? "");
        string productType;
        using (var get = new HttpRequestMessage(HttpMethod.Get, new Uri(shop.BaseUrl!, $"{item}?marketplaceIds={marketplace}&includedData=summaries,fulfillmentAvailability")))
        {
            get.Headers.Add("x-amz-access-token", shop.ResolveToken());
            using var response = await http.SendAsync(get, cancellationToken);
            var read = await PushResult.FromResponseAsync(response, cancellationToken);
            if (read.Status != PushStatus.Pushed)
            {
                return read;
            }

            var listing = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
            var availability = listing["fulfillmentAvailability"]?.AsArray() ?? [];
            var afn = availability.Select(a => (string?)a?["fulfillmentChannelCode"]).FirstOrDefault(c => c is not null and not MerchantFulfilled);
            if (afn is not null)
            {
                return new PushResult(PushStatus.NotApplicable, 200, $"listing {push.Sku} is fulfilled by Amazon ({afn}); FBA stock is Amazon's");
            }

            var current = availability.FirstOrDefault(a => (string?)a?["fulfillmentChannelCode"] == MerchantFulfilled)?["quantity"];
            if (current is not null && (int)current == push.Available)
            {
                return new PushResult(PushStatus.AlreadyPushed, 200);
            }

            productType = (string?)listing["summaries"]?.AsArray().FirstOrDefault(s => (string?)s?["marketplaceId"] == shop.MarketplaceId)?["productType"]
                ?? (string?)listing["summaries"]?[0]?["productType"] ?? "PRODUCT";
        }

        var patch = new JsonObject
        {
            ["productType"] = productType,
            ["patches"] = new JsonArray(new JsonObject
            {
                ["op"] = "merge",
                ["path"] = "/attributes/fulfillment_availability",
                ["value"] = new JsonArray(new JsonObject { ["fulfillment_channel_code"] = MerchantFulfilled, ["quantity"] = push.Available }),
            }),
        };
        using var request = new HttpRequestMessage(HttpMethod.Patch, new Uri(shop.BaseUrl!, $"{item}?marketplaceIds={marketplace}")) { Content = JsonContent.Create(patch) };
        request.Headers.Add("x-amz-access-token", shop.ResolveToken());
        using var patched = await http.SendAsync(request, cancellationToken);
        var result = await PushResult.FromResponseAsync(patched, cancellationToken);
        if (result.Status != PushStatus.Pushed)
        {
            return result;
        }

        var submission = JsonNode.Parse(await patched.Content.ReadAsStringAsync(cancellationToken));
        return (string?)submission?["status"] == "ACCEPTED"
            ? result
            : new PushResult(PushStatus.Rejected, result.HttpStatus, $"listing {(string?)submission?["status"]}: {PushResult.Truncate(submission?["issues"]?.ToJsonString() ?? "")}");
    }

    private static string ListingPath(string sellerId, string sku) =>
        $"/listings/2021-08-01/items/{Uri.EscapeDataString(sellerId)}/{Uri.EscapeDataString(sku)}";
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

    /// <summary>
    /// Inventory API <c>bulk_update_price_quantity</c>: eBay lists the smaller of the inventory item's ship-to-home
    /// quantity and each offer's available quantity, so both are set in one call, for the SKU's published offers (read
    /// with <c>getOffers</c>). A SKU with no offers only gets its inventory item quantity. The answer is per item (200, or
    /// 207 Multi-Status): a 5xx item is retried, another failing item is a refusal.
    /// </summary>
    public async Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var offers = new JsonArray();
        using (var list = Request(shop, HttpMethod.Get, $"/sell/inventory/v1/offer?sku={Uri.EscapeDataString(push.Sku)}"))
        using (var response = await http.SendAsync(list, cancellationToken))
        {
            // 404 is eBay's answer for a SKU without offers (errorId 25713): the inventory item alone is updated.
            if (response.StatusCode != System.Net.HttpStatusCode.NotFound)
            {
                var read = await PushResult.FromResponseAsync(response, cancellationToken);
                if (read.Status != PushStatus.Pushed)
                {
                    return read;
                }

                var found = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["offers"]?.AsArray() ?? [];
                foreach (var offer in found.Where(o => (string?)o?["status"] == "PUBLISHED"))
                {
                    offers.Add(new JsonObject { ["offerId"] = (string?)offer!["offerId"], ["availableQuantity"] = push.Available });
                }
            }
        }

        var entry = new JsonObject { ["sku"] = push.Sku, ["shipToLocationAvailability"] = new JsonObject { ["quantity"] = push.Available } };
        if (offers.Count > 0)
        {
            entry["offers"] = offers;
        }

        using var update = Request(shop, HttpMethod.Post, "/sell/inventory/v1/bulk_update_price_quantity");
        update.Content = JsonContent.Create(new JsonObject { ["requests"] = new JsonArray(entry) });
        using var updated = await http.SendAsync(update, cancellationToken);
        var result = await PushResult.FromResponseAsync(updated, cancellationToken);
        if (result.Status != PushStatus.Pushed)
        {
            return result;
        }

        var failed = (JsonNode.Parse(await updated.Content.ReadAsStringAsync(cancellationToken))?["responses"]?.AsArray() ?? [])
            .Where(r => (int?)r?["statusCode"] is not (>= 200 and < 300)).ToList();
        if (failed.Count == 0)
        {
            return result;
        }

        var detail = $"HTTP {(int)updated.StatusCode}: {PushResult.Truncate(new JsonArray([.. failed.Select(f => f!.DeepClone())]).ToJsonString())}";
        return failed.Any(f => (int?)f?["statusCode"] >= 500)
            ? new PushResult(PushStatus.Retry, (int)updated.StatusCode, detail)
            : new PushResult(PushStatus.Rejected, (int)updated.StatusCode, detail);
    }

    private static HttpRequestMessage Request(ChannelEndpoint shop, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(shop.BaseUrl!, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", shop.ResolveToken());
        return request;
    }
}
