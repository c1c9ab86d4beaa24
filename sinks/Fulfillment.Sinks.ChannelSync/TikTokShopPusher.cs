using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>
/// TikTok Shop Partner API (202309, community-documented): tracking via Mark Package As Shipped
/// (<c>POST /fulfillment/202309/orders/{order_id}/packages</c> with the order line item ids, tracking number and
/// shipping provider id), stock via Update Inventory (<c>POST /product/202309/products/{product_id}/inventory/update</c>)
/// after finding the SKU with Search Products. Every request is signed the way the connectors sign order fetches
/// (<see cref="TikTokShopOrderFetcher.Sign"/>: app secret over path, sorted query and body). Errors come as HTTP 200 with
/// a non-zero <c>code</c>; 36009002 (too many requests) and 36009003 (internal error) are transient.
/// There is no idempotency key: the order is read first, and lines that already carry this tracking number are not
/// sent again, so a retry after a lost response never creates a second package.
/// <para>A corrected tracking number (a later ship confirmation whose lines TikTok already shows shipped, all in one
/// package under another tracking number) is not a second shipment: it goes to Update Shipping Info
/// (<c>POST /fulfillment/202309/orders/{order_id}/shipping_info/update</c>) when that package is the order's only one, or
/// Update Package Shipping Info (<c>POST /fulfillment/202309/packages/{package_id}/shipping_info/update</c>) when the order
/// was split. TikTok allows this within 72 hours of shipping; later it answers with a business code, which is a refusal
/// (dead letter with TikTok's reason). Lines split between shipped and unshipped, or across packages, are refused:
/// neither endpoint can express that.</para>
/// </summary>
public sealed class TikTokShopPusher(HttpClient http, TimeProvider time) : IChannelPusher
{
    public const string OrderPath = "/order/202309/orders";
    public const string SearchPath = "/product/202309/products/search";

    private static readonly HashSet<long> TransientCodes = [36009002, 36009003];

    public Channel Channel => Channel.TikTokShop;

    public PushOperation ShipmentOperation => PushOperation.CreateFulfillment;

    public static string PackagesPath(string orderId) => $"/fulfillment/202309/orders/{Uri.EscapeDataString(orderId)}/packages";

    public static string ShippingInfoPath(string orderId) => $"/fulfillment/202309/orders/{Uri.EscapeDataString(orderId)}/shipping_info/update";

    public static string PackageShippingInfoPath(string packageId) => $"/fulfillment/202309/packages/{Uri.EscapeDataString(packageId)}/shipping_info/update";

    public static string InventoryPath(string productId) => $"/product/202309/products/{Uri.EscapeDataString(productId)}/inventory/update";

    public async Task<PushResult> PushShipmentAsync(ChannelEndpoint shop, ShipmentPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        if (push.TrackingNumber is not { Length: > 0 } tracking)
        {
            return new PushResult(PushStatus.Rejected, null, "TikTok Shop needs a tracking number to mark a package shipped");
        }

        if (!shop.ShippingProviders.TryGetValue(push.Carrier, out var providerId))
        {
            return new PushResult(PushStatus.Rejected, null,
                $"no TikTok Shop shipping_provider_id for carrier '{push.Carrier}' (ChannelSync:Shops:N:ShippingProviders:{push.Carrier})");
        }

        var (detail, error) = await CallAsync(shop, HttpMethod.Get, OrderPath, [new("ids", push.ChannelOrderId)], null, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var order = detail!["orders"]?.AsArray().FirstOrDefault(o => (string?)o?["id"] == push.ChannelOrderId);
        if (order is null)
        {
            return new PushResult(PushStatus.Rejected, 200, $"order {push.ChannelOrderId} not found");
        }

        var items = order["line_items"]?.AsArray() ?? [];
        var toShip = new List<string>();
        var toCorrect = new List<JsonNode>();
        foreach (var line in push.Lines)
        {
            var item = items.FirstOrDefault(i => (string?)i?["id"] == line.LineId);
            if (item is null)
            {
                return new PushResult(PushStatus.Rejected, 200, $"order {push.ChannelOrderId} has no line item {line.LineId}");
            }

            var shippedWith = (string?)item["tracking_number"];
            if (shippedWith == tracking)
            {
                continue;
            }

            if (shippedWith is { Length: > 0 })
            {
                toCorrect.Add(item);
            }
            else
            {
                toShip.Add(line.LineId);
            }
        }

        if (toCorrect.Count > 0)
        {
            return await CorrectTrackingAsync(shop, push, tracking, providerId, items, toCorrect, toShip, cancellationToken);
        }

        if (toShip.Count == 0)
        {
            return new PushResult(PushStatus.AlreadyPushed, 200);
        }

        var body = new JsonObject
        {
            ["order_line_item_ids"] = new JsonArray([.. toShip.Select(id => (JsonNode)id)]),
            ["tracking_number"] = tracking,
            ["shipping_provider_id"] = providerId,
        };
        var (_, shipError) = await CallAsync(shop, HttpMethod.Post, PackagesPath(push.ChannelOrderId), [], body, cancellationToken);
        return shipError ?? PushResult.Ok(200);
    }

    /// <summary>The package's lines already shipped under another tracking number: the confirmation corrects it.</summary>
    private async Task<PushResult> CorrectTrackingAsync(ChannelEndpoint shop, ShipmentPush push, string tracking, string providerId,
        JsonArray items, List<JsonNode> toCorrect, List<string> unshipped, CancellationToken cancellationToken)
    {
        if (unshipped.Count > 0)
        {
            return new PushResult(PushStatus.Rejected, 200,
                $"line items {string.Join(", ", unshipped)} are not shipped while {string.Join(", ", toCorrect.Select(i => (string?)i["id"]))} already are: " +
                "one confirmation cannot both ship and correct on TikTok Shop");
        }

        static string PackageOf(JsonNode? item) => (string?)item?["package_id"] ?? "";
        var packages = toCorrect.Select(PackageOf).Distinct(StringComparer.Ordinal).ToList();
        var previous = toCorrect.Select(i => (string?)i["tracking_number"]).Distinct(StringComparer.Ordinal).ToList();
        if (packages.Count > 1 || previous.Count > 1)
        {
            return new PushResult(PushStatus.Rejected, 200,
                $"line items of order {push.ChannelOrderId} are in {Math.Max(packages.Count, previous.Count)} packages ({string.Join(", ", previous)}); a correction names one");
        }

        var orderPackages = items.Where(i => ((string?)i?["tracking_number"]) is { Length: > 0 }).Select(PackageOf).Distinct(StringComparer.Ordinal).Count();
        var body = new JsonObject { ["tracking_number"] = tracking, ["shipping_provider_id"] = providerId };
        var path = orderPackages > 1 && packages[0].Length > 0 ? PackageShippingInfoPath(packages[0]) : ShippingInfoPath(push.ChannelOrderId);
        var (_, error) = await CallAsync(shop, HttpMethod.Post, path, [], body, cancellationToken);
        return error ?? PushResult.Ok(200);
    }

    public async Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var (found, error) = await CallAsync(shop, HttpMethod.Post, SearchPath, [new("page_size", "10")],
            new JsonObject { ["seller_skus"] = new JsonArray(push.Sku) }, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        string? productId = null;
        string? skuId = null;
        foreach (var product in found!["products"]?.AsArray() ?? [])
        {
            var sku = product?["skus"]?.AsArray().FirstOrDefault(s => (string?)s?["seller_sku"] == push.Sku);
            if (sku is not null)
            {
                productId = (string?)product!["id"];
                skuId = (string?)sku["id"];
                break;
            }
        }

        if (productId is null || skuId is null)
        {
            return new PushResult(PushStatus.Rejected, 200, $"no TikTok Shop product has seller SKU {push.Sku}");
        }

        var inventory = new JsonObject { ["quantity"] = push.Available };
        if (shop.WarehouseId is { Length: > 0 } warehouse)
        {
            inventory["warehouse_id"] = warehouse;
        }

        var body = new JsonObject { ["skus"] = new JsonArray(new JsonObject { ["id"] = skuId, ["inventory"] = new JsonArray(inventory) }) };
        var (_, updateError) = await CallAsync(shop, HttpMethod.Post, InventoryPath(productId), [], body, cancellationToken);
        return updateError ?? PushResult.Ok(200);
    }

    /// <summary>One signed call; returns <c>data</c>, or the classified failure.</summary>
    private async Task<(JsonNode? Data, PushResult? Error)> CallAsync(
        ChannelEndpoint shop, HttpMethod method, string path, List<KeyValuePair<string, string>> query, JsonObject? body, CancellationToken cancellationToken)
    {
        var json = body?.ToJsonString() ?? "";
        query.Add(new("app_key", shop.AppKey ?? ""));
        query.Add(new("timestamp", time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));
        if (shop.ShopCipher is { Length: > 0 } cipher)
        {
            query.Add(new("shop_cipher", cipher));
        }

        // Signed over exactly the bytes sent: the body string is serialized once and reused.
        query.Add(new("sign", TikTokShopOrderFetcher.Sign(shop.ResolveAppSecret() ?? "", path, query, json)));
        var uri = new Uri(shop.BaseUrl!, path + "?" + string.Join('&', query.Select(q => $"{q.Key}={Uri.EscapeDataString(q.Value)}")));
        using var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        request.Headers.Add("x-tts-access-token", shop.ResolveToken());
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var status = (int)response.StatusCode;
        var parsed = text.Length > 0 && text.TrimStart().StartsWith('{') ? JsonNode.Parse(text) : null;
        var code = (long?)parsed?["code"];
        if (response.IsSuccessStatusCode && code == 0)
        {
            return (parsed!["data"] ?? new JsonObject(), null);
        }

        var error = code is { } c ? $"HTTP {status}, code {c}: {(string?)parsed!["message"]}" : $"HTTP {status}: {PushResult.Truncate(text)}";
        var transient = response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || status >= 500
            || (code is { } k && TransientCodes.Contains(k));
        return (null, transient
            ? new PushResult(PushStatus.Retry, status, error, PushResult.RetryAfterOf(response))
            : new PushResult(PushStatus.Rejected, status, error));
    }
}
