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
/// order after its notification), and the push targets of the channel-sync worker (Shopify Admin GraphQL fulfillment
/// and inventory, WooCommerce REST orders/notes/products, Amazon shipmentConfirmation). <c>POST /_demo/outage?seconds=N</c>
/// makes every push target answer 503 and 429 (alternately, with Retry-After) for N seconds, the channel-outage drill;
/// <c>GET /_demo/stats</c> counts the answers.
/// </summary>
public sealed partial class ChannelApiStub : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, DemoOrder> _orders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _answers = new(StringComparer.Ordinal);
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
        return found is null
            ? Json(200, new JsonObject { ["code"] = 0, ["message"] = "Success", ["data"] = new JsonObject { ["orders"] = new JsonArray() } })
            : Json(200, Payloads.TikTokOrderDetail(found, "AWAITING_SHIPMENT"));
    }

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

    private static string Route(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint e ? e.RoutePattern.RawText ?? context.Request.Path : context.Request.Path.ToString();

    private void Count(string key) => _answers.AddOrUpdate(key, 1, (_, v) => v + 1);

    private static int ProductId(string sku) => 1000 + (sku.Length == 0 ? 0 : Math.Abs(sku.GetHashCode(StringComparison.Ordinal) % 100_000));

    private static string Key(ChannelKind channel, string id) => $"{channel}:{id}";

    private static IResult Json(int status, JsonNode body) =>
        Results.Content(body.ToJsonString(), "application/json", System.Text.Encoding.UTF8, status);

    [GeneratedRegex("sku:\"([^\"]*)\"")]
    private static partial Regex SkuQuery();

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
