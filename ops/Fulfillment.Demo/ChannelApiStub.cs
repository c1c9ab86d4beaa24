using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Fulfillment.Demo;

/// <summary>
/// The channel APIs the hub calls back, for the demo's shops: TikTok Shop Get Order Detail (the connector fetches an
/// order after its notification), eBay getOrders (the connector polls eBay: the demo's eBay orders are published here),
/// and the push targets of the channel-sync worker (Shopify Admin GraphQL fulfillment and inventory, WooCommerce REST
/// orders/notes/products, Amazon shipmentConfirmation and listings (stock), eBay shipping_fulfillment and
/// bulk_update_price_quantity, TikTok Shop ship package, product search and inventory update).
/// <c>POST /_demo/outage?seconds=N</c> makes every push target and eBay getOrders answer 503 and 429 (alternately, with
/// Retry-After) for N seconds, the channel-outage drill; <c>GET /_demo/stats</c> counts the answers.
/// </summary>
public sealed partial class ChannelApiStub : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, DemoOrder> _orders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EbayListing> _ebay = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentBag<string>> _ebayFulfillments = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Tracking, string PackageId)> _tiktokPackages = new(StringComparer.Ordinal);
    private WebApplication? _app;
    private long _outageUntilTicks;
    private long _outageCalls;

    /// <summary>The listening URL once started.</summary>
    public Uri? Url { get; private set; }

    public bool InOutage => DateTime.UtcNow.Ticks < Interlocked.Read(ref _outageUntilTicks);

    public IReadOnlyDictionary<string, long> Answers => new SortedDictionary<string, long>(_answers, StringComparer.Ordinal);

    /// <summary>Remembers an order so its channel API can describe it (TikTok order detail, Shopify fulfillment orders).</summary>
    public void Register(DemoOrder order)
    {
        ArgumentNullException.ThrowIfNull(order);
        if (order.Shop.Channel is ChannelKind.TikTokShop or ChannelKind.Shopify)
        {
            _orders[Key(order.Shop.Channel, order.ChannelOrderId)] = order;
        }
    }

    /// <summary>An eBay order as the seller's account shows it: modified at <see cref="ModifiedAt"/>, maybe cancelled.</summary>
    private sealed record EbayListing(DemoOrder Order, DateTime ModifiedAt, bool Cancelled);

    /// <summary>Places an eBay order on the "channel": the connector's eBay poller finds it with its next getOrders.</summary>
    public void PublishEbay(DemoOrder order)
    {
        ArgumentNullException.ThrowIfNull(order);
        _ebay[order.ChannelOrderId] = new EbayListing(order, order.CreatedAt, Cancelled: false);
    }

    /// <summary>The buyer cancels an eBay order: it is modified now and shows cancelStatus CANCELED.</summary>
    public void CancelEbay(DemoOrder order, DateTime at)
    {
        ArgumentNullException.ThrowIfNull(order);
        // eBay dates carry milliseconds; a cancellation in the creation's millisecond would look like the same state.
        _ebay[order.ChannelOrderId] = new EbayListing(order, at > order.CreatedAt ? at : order.CreatedAt.AddMilliseconds(1), Cancelled: true);
    }

    public void StartOutage(TimeSpan length) => Interlocked.Exchange(ref _outageUntilTicks, DateTime.UtcNow.Add(length).Ticks);

    public async Task StartAsync(string listenUrl, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(listenUrl);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        app.MapGet("/order/202309/orders", TikTokOrderDetail);
        app.MapPost("/admin/api/{version}/graphql.json", Handler(ShopifyGraphQlAsync));
        app.MapPut("/wp-json/wc/v3/orders/{id}", Handler(c => Task.FromResult(Json(200, new JsonObject { ["id"] = (string?)c.Request.RouteValues["id"], ["status"] = "completed" }))));
        app.MapGet("/wp-json/wc/v3/orders/{id}/notes", Handler(c => Task.FromResult(Json(200, new JsonArray()))));
        app.MapPost("/wp-json/wc/v3/orders/{id}/notes", Handler(c => Task.FromResult(Json(201, new JsonObject { ["id"] = 1 }))));
        app.MapGet("/wp-json/wc/v3/products", Handler(c => Task.FromResult(Json(200, new JsonArray(new JsonObject
        {
            ["id"] = ProductId(c.Request.Query["sku"].ToString()), ["parent_id"] = 0, ["sku"] = c.Request.Query["sku"].ToString(),
        })))));
        app.MapPut("/wp-json/wc/v3/products/{id}", Handler(c => Task.FromResult(Json(200, new JsonObject { ["id"] = (string?)c.Request.RouteValues["id"] }))));
        app.MapPost("/orders/v0/orders/{id}/shipmentConfirmation", Handler(c => Task.FromResult(Results.StatusCode(204))));
        app.MapGet("/sell/fulfillment/v1/order", Handler(c => Task.FromResult(EbayGetOrders(c))));
        app.MapGet("/sell/fulfillment/v1/order/{id}/shipping_fulfillment", Handler(c => Task.FromResult(Json(200, EbayFulfillments(c)))));
        app.MapPost("/sell/fulfillment/v1/order/{id}/shipping_fulfillment", Handler(EbayCreateFulfillmentAsync));
        app.MapGet("/sell/inventory/v1/offer", Handler(c => Task.FromResult(Json(200, new JsonObject
        {
            ["offers"] = new JsonArray(new JsonObject { ["offerId"] = $"{ProductId(c.Request.Query["sku"].ToString())}01", ["sku"] = c.Request.Query["sku"].ToString(), ["status"] = "PUBLISHED" }),
            ["total"] = 1,
        }))));
        app.MapPost("/sell/inventory/v1/bulk_update_price_quantity", Handler(EbayBulkUpdateAsync));
        app.MapPost("/fulfillment/202309/orders/{id}/packages", Handler(TikTokShipPackageAsync));
        app.MapPost("/product/202309/products/search", Handler(TikTokProductSearchAsync));
        app.MapPost("/product/202309/products/{id}/inventory/update", Handler(c => Task.FromResult(TikTok(new JsonObject()))));
        app.MapGet("/listings/2021-08-01/items/{sellerId}/{sku}", Handler(c => Task.FromResult(Json(200, new JsonObject
        {
            ["sku"] = (string?)c.Request.RouteValues["sku"],
            ["summaries"] = new JsonArray(new JsonObject { ["marketplaceId"] = "ATVPDKIKX0DER", ["productType"] = "PRODUCT" }),
            ["fulfillmentAvailability"] = new JsonArray(new JsonObject { ["fulfillmentChannelCode"] = "DEFAULT", ["quantity"] = 0 }),
        }))));
        app.MapPatch("/listings/2021-08-01/items/{sellerId}/{sku}", Handler(c => Task.FromResult(Json(200, new JsonObject
        {
            ["sku"] = (string?)c.Request.RouteValues["sku"], ["status"] = "ACCEPTED", ["submissionId"] = Guid.NewGuid().ToString("N"), ["issues"] = new JsonArray(),
        }))));
        app.MapPost("/_demo/outage", (HttpContext c) =>
        {
            var seconds = double.Parse(c.Request.Query["seconds"].FirstOrDefault() ?? "60", CultureInfo.InvariantCulture);
            StartOutage(TimeSpan.FromSeconds(seconds));
            return Results.Json(new { outage_seconds = seconds });
        });
        app.MapGet("/_demo/stats", () => Results.Json(Answers));
        await app.StartAsync(cancellationToken);
        _app = app;
        Url = new Uri(app.Urls.First());
    }

    private IResult TikTokOrderDetail(HttpContext context)
    {
        var ids = context.Request.Query["ids"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries);
        var found = ids.Select(id => _orders.TryGetValue(Key(ChannelKind.TikTokShop, id), out var o) ? o : null).FirstOrDefault(o => o is not null);
        Count("tiktok order detail");
        if (found is null)
        {
            return TikTok(new JsonObject { ["orders"] = new JsonArray() });
        }

        var detail = Payloads.TikTokOrderDetail(found, "AWAITING_SHIPMENT");
        // Lines shipped through the packages call show their tracking, as TikTok's order detail does: the pusher reads
        // the order first and does not re-send lines that already carry the tracking number.
        foreach (var item in detail["data"]?["orders"]?[0]?["line_items"]?.AsArray() ?? [])
        {
            if (item is JsonObject line && _tiktokPackages.TryGetValue($"{found.ChannelOrderId}:{(string?)line["id"]}", out var package))
            {
                line["tracking_number"] = package.Tracking;
                line["package_id"] = package.PackageId;
            }
        }

        return Json(200, detail);
    }

    /// <summary>TikTok Shop Ship Package: remembers the tracking number per order line for the order detail.</summary>
    private async Task<IResult> TikTokShipPackageAsync(HttpContext context)
    {
        var request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var orderId = (string?)context.Request.RouteValues["id"] ?? "";
        var tracking = (string?)request?["tracking_number"] ?? "";
        var packageId = $"pkg{Math.Abs(HashCode.Combine(orderId, tracking) % 1_000_000_000)}";
        foreach (var line in request?["order_line_item_ids"]?.AsArray() ?? [])
        {
            _tiktokPackages[$"{orderId}:{(string?)line}"] = (tracking, packageId);
        }

        return TikTok(new JsonObject { ["package_id"] = packageId });
    }

    private static async Task<IResult> TikTokProductSearchAsync(HttpContext context)
    {
        var request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var products = new JsonArray([.. (request?["seller_skus"]?.AsArray() ?? []).Select(sku => (JsonNode)new JsonObject
        {
            ["id"] = ProductId((string?)sku ?? "").ToString(CultureInfo.InvariantCulture),
            ["skus"] = new JsonArray(new JsonObject { ["id"] = $"{ProductId((string?)sku ?? "")}01", ["seller_sku"] = (string?)sku }),
        })]);
        return TikTok(new JsonObject { ["products"] = products, ["total_count"] = products.Count });
    }

    /// <summary>TikTok Shop's success envelope around <paramref name="data"/>.</summary>
    private static IResult TikTok(JsonObject data) =>
        Json(200, new JsonObject { ["code"] = 0, ["message"] = "Success", ["request_id"] = "demo", ["data"] = data });

    /// <summary>A route handler (a Delegate, so the IResult is written) that answers through the outage switch.</summary>
    private Delegate Handler(Func<HttpContext, Task<IResult>> answer) => (HttpContext context) => Push(context, answer);

    private async Task<IResult> Push(HttpContext context, Func<HttpContext, Task<IResult>> answer)
    {
        if (InOutage)
        {
            // Alternate the two failures a channel API gives under trouble: overloaded (503) and rate limited (429).
            var n = Interlocked.Increment(ref _outageCalls);
            var status = n % 2 == 0 ? 429 : 503;
            Count($"outage {status}");
            context.Response.Headers.RetryAfter = "1";
            return Json(status, new JsonObject { ["errors"] = status == 429 ? "Exceeded 2 calls per second for api client." : "Service Unavailable" });
        }

        var result = await answer(context);
        Count("ok " + context.Request.Method + " " + Route(context));
        return result;
    }

    private async Task<IResult> ShopifyGraphQlAsync(HttpContext context)
    {
        var request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var query = (string?)request?["query"] ?? "";
        var variables = request?["variables"];
        if (query.Contains("fulfillmentOrders", StringComparison.Ordinal))
        {
            var gid = (string?)variables?["id"] ?? "";
            var id = gid[(gid.LastIndexOf('/') + 1)..];
            if (!_orders.TryGetValue(Key(ChannelKind.Shopify, id), out var order))
            {
                return Json(200, new JsonObject { ["data"] = new JsonObject { ["order"] = null } });
            }

            var items = new JsonArray();
            foreach (var line in order.Lines)
            {
                items.Add(new JsonObject
                {
                    ["id"] = $"gid://shopify/FulfillmentOrderLineItem/{line.LineId}",
                    ["remainingQuantity"] = line.Quantity,
                    ["lineItem"] = new JsonObject { ["id"] = $"gid://shopify/LineItem/{line.LineId}" },
                });
            }

            return Json(200, new JsonObject
            {
                ["data"] = new JsonObject
                {
                    ["order"] = new JsonObject
                    {
                        ["id"] = gid,
                        ["fulfillments"] = new JsonArray(),
                        ["fulfillmentOrders"] = new JsonObject
                        {
                            ["nodes"] = new JsonArray(new JsonObject
                            {
                                ["id"] = $"gid://shopify/FulfillmentOrder/{order.Number}", ["status"] = "OPEN",
                                ["lineItems"] = new JsonObject { ["nodes"] = items },
                            }),
                        },
                    },
                },
            });
        }

        if (query.Contains("fulfillmentCreate", StringComparison.Ordinal))
        {
            return Json(200, new JsonObject
            {
                ["data"] = new JsonObject
                {
                    ["fulfillmentCreate"] = new JsonObject
                    {
                        ["fulfillment"] = new JsonObject { ["id"] = $"gid://shopify/Fulfillment/{Guid.NewGuid():N}", ["status"] = "SUCCESS" },
                        ["userErrors"] = new JsonArray(),
                    },
                },
            });
        }

        if (query.Contains("productVariants", StringComparison.Ordinal))
        {
            var match = SkuQuery().Match((string?)variables?["query"] ?? "");
            var sku = match.Success ? match.Groups[1].Value : "";
            return Json(200, new JsonObject
            {
                ["data"] = new JsonObject
                {
                    ["productVariants"] = new JsonObject
                    {
                        ["nodes"] = new JsonArray(new JsonObject
                        {
                            ["sku"] = sku, ["inventoryItem"] = new JsonObject { ["id"] = $"gid://shopify/InventoryItem/{ProductId(sku)}" },
                        }),
                    },
                },
            });
        }

        if (query.Contains("inventorySetQuantities", StringComparison.Ordinal))
        {
            return Json(200, new JsonObject
            {
                ["data"] = new JsonObject
                {
                    ["inventorySetQuantities"] = new JsonObject
                    {
                        ["inventoryAdjustmentGroup"] = new JsonObject { ["id"] = $"gid://shopify/InventoryAdjustmentGroup/{Guid.NewGuid():N}" },
                        ["userErrors"] = new JsonArray(),
                    },
                },
            });
        }

        return Json(200, new JsonObject { ["errors"] = new JsonArray(new JsonObject { ["message"] = "unsupported operation in the demo stub" }) });
    }

    /// <summary>getOrders with <c>filter=lastmodifieddate:[FROM..]</c>, paged by <c>limit</c>/<c>offset</c> with a
    /// <c>next</c> href; orders in creation order, as eBay returns them.</summary>
    private IResult EbayGetOrders(HttpContext context)
    {
        var filter = context.Request.Query["filter"].ToString();
        var match = EbayModifiedFilter().Match(filter);
        if (!match.Success || !DateTime.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var from))
        {
            return Json(400, new JsonObject { ["errors"] = new JsonArray(new JsonObject { ["errorId"] = 30800, ["message"] = $"invalid filter '{filter}'" }) });
        }

        var limit = int.TryParse(context.Request.Query["limit"], CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 200) : 50;
        var offset = int.TryParse(context.Request.Query["offset"], CultureInfo.InvariantCulture, out var o) ? Math.Max(0, o) : 0;
        var matching = _ebay.Values.Where(e => e.ModifiedAt >= from).OrderBy(e => e.Order.CreatedAt).ThenBy(e => e.Order.Number).ToList();
        var page = new JsonArray([.. matching.Skip(offset).Take(limit).Select(e => (JsonNode)Payloads.EbayOrder(e.Order, e.ModifiedAt, e.Cancelled))]);
        var body = new JsonObject
        {
            ["href"] = $"{context.Request.Path}{context.Request.QueryString}",
            ["limit"] = limit,
            ["offset"] = offset,
            ["total"] = matching.Count,
            ["orders"] = page,
        };
        if (offset + limit < matching.Count)
        {
            body["next"] = $"https://api.ebay.com/sell/fulfillment/v1/order?filter={Uri.EscapeDataString(filter)}&limit={limit}&offset={offset + limit}";
        }

        return Json(200, body);
    }

    private JsonObject EbayFulfillments(HttpContext context)
    {
        var id = (string?)context.Request.RouteValues["id"] ?? "";
        var numbers = _ebayFulfillments.TryGetValue(id, out var bag) ? bag.ToArray() : [];
        return new JsonObject
        {
            ["fulfillments"] = new JsonArray([.. numbers.Select(n => (JsonNode)new JsonObject { ["fulfillmentId"] = n, ["shipmentTrackingNumber"] = n })]),
            ["total"] = numbers.Length,
        };
    }

    private async Task<IResult> EbayCreateFulfillmentAsync(HttpContext context)
    {
        var id = (string?)context.Request.RouteValues["id"] ?? "";
        var request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        if (!_ebay.ContainsKey(id) || (string?)request?["trackingNumber"] is not { Length: > 0 } tracking)
        {
            return Json(400, new JsonObject { ["errors"] = new JsonArray(new JsonObject { ["errorId"] = 32100, ["message"] = $"order '{id}' unknown or no trackingNumber" }) });
        }

        _ebayFulfillments.GetOrAdd(id, _ => []).Add(tracking);
        context.Response.Headers.Location = $"https://api.ebay.com/sell/fulfillment/v1/order/{id}/shipping_fulfillment/{tracking}";
        return Results.StatusCode(201);
    }

    private static async Task<IResult> EbayBulkUpdateAsync(HttpContext context)
    {
        var request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var responses = new JsonArray([.. (request?["requests"]?.AsArray() ?? []).Select(r => (JsonNode)new JsonObject { ["statusCode"] = 200, ["sku"] = (string?)r?["sku"] })]);
        return Json(200, new JsonObject { ["responses"] = responses });
    }

    private static string Route(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint e ? e.RoutePattern.RawText ?? context.Request.Path : context.Request.Path.ToString();

    private void Count(string key) => _answers.AddOrUpdate(key, 1, (_, v) => v + 1);

    private static int ProductId(string sku) => 1000 + (sku.Length == 0 ? 0 : Math.Abs(sku.GetHashCode(StringComparison.Ordinal) % 100_000));

    private static string Key(ChannelKind channel, string id) => $"{channel}:{id}";

    private static IResult Json(int status, JsonNode body) =>
        Results.Content(body.ToJsonString(), "application/json", System.Text.Encoding.UTF8, status);

    [GeneratedRegex("sku:\"([^\"]*)\"")]
    private static partial Regex SkuQuery();

    [GeneratedRegex(@"lastmodifieddate:\[([^.\]]+(?:\.\d+)?Z?)\.\.")]
    private static partial Regex EbayModifiedFilter();

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
