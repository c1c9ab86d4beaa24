using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>
/// Shopify Admin GraphQL: tracking via <c>fulfillmentCreate</c> per fulfillment order (REST fulfillments are legacy),
/// stock via <c>inventorySetQuantities</c>. Throttling arrives as HTTP 200 with a <c>THROTTLED</c> error; the wait is
/// computed from the reported cost and restore rate. fulfillmentCreate has no idempotency key, so before creating, the
/// order's fulfillments are read and a package whose tracking number is already there is not sent again.
/// </summary>
public sealed class ShopifyPusher(HttpClient http) : IChannelPusher
{
    private const string OrderQuery = """
        query FulfillmentState($id: ID!) {
          order(id: $id) {
            fulfillments(first: 50) { id trackingInfo(first: 10) { number } }
            fulfillmentOrders(first: 20) {
              nodes { id status lineItems(first: 100) { nodes { id remainingQuantity lineItem { id } } } }
            }
          }
        }
        """;

    private const string CreateMutation = """
        mutation CreateFulfillment($fulfillment: FulfillmentInput!) {
          fulfillmentCreate(fulfillment: $fulfillment) {
            fulfillment { id status }
            userErrors { field message }
          }
        }
        """;

    private const string VariantQuery = """
        query InventoryItemBySku($query: String!) {
          productVariants(first: 2, query: $query) { nodes { sku inventoryItem { id } } }
        }
        """;

    private const string SetQuantities = """
        mutation SetAvailable($input: InventorySetQuantitiesInput!) {
          inventorySetQuantities(input: $input) {
            inventoryAdjustmentGroup { id }
            userErrors { field message code }
          }
        }
        """;

    public Channel Channel => Channel.Shopify;

    public PushOperation ShipmentOperation => PushOperation.CreateFulfillment;

    public async Task<PushResult> PushShipmentAsync(ChannelEndpoint shop, ShipmentPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        var (state, stateError) = await GraphQlAsync(shop, OrderQuery, new JsonObject { ["id"] = $"gid://shopify/Order/{push.ChannelOrderId}" }, cancellationToken);
        if (stateError is not null)
        {
            return stateError;
        }

        var order = state!["order"];
        if (order is null)
        {
            return new PushResult(PushStatus.Rejected, 200, $"order {push.ChannelOrderId} not found");
        }

        if (push.TrackingNumber is { } number && order["fulfillments"]!.AsArray()
                .Any(f => f!["trackingInfo"]!.AsArray().Any(t => (string?)t!["number"] == number)))
        {
            return new PushResult(PushStatus.AlreadyPushed, 200);
        }

        // Shipment lines carry Shopify line item ids; fulfillment orders (one per assigned location) carry their own
        // line ids with what remains to fulfil.
        var byFulfillmentOrder = new Dictionary<string, JsonArray>();
        foreach (var line in push.Lines)
        {
            var remaining = line.Quantity;
            var gid = $"gid://shopify/LineItem/{line.LineId}";
            foreach (var fo in order["fulfillmentOrders"]!["nodes"]!.AsArray())
            {
                if ((string?)fo!["status"] is not ("OPEN" or "IN_PROGRESS"))
                {
                    continue;
                }

                foreach (var item in fo["lineItems"]!["nodes"]!.AsArray())
                {
                    if (remaining == 0 || (string?)item!["lineItem"]!["id"] != gid)
                    {
                        continue;
                    }

                    var take = Math.Min(remaining, (int)item["remainingQuantity"]!);
                    if (take > 0)
                    {
                        var foId = (string)fo["id"]!;
                        if (!byFulfillmentOrder.TryGetValue(foId, out var items))
                        {
                            byFulfillmentOrder[foId] = items = [];
                        }

                        items.Add(new JsonObject { ["id"] = (string)item["id"]!, ["quantity"] = take });
                        remaining -= take;
                    }
                }
            }

            if (remaining > 0)
            {
                return new PushResult(PushStatus.Rejected, 200, $"line {line.LineId}: {remaining} unit(s) have no open fulfillment order line");
            }
        }

        // All fulfillment orders in one call must share order and location: one call per fulfillment order.
        foreach (var (foId, items) in byFulfillmentOrder)
        {
            var fulfillment = new JsonObject
            {
                ["lineItemsByFulfillmentOrder"] = new JsonArray(new JsonObject { ["fulfillmentOrderId"] = foId, ["fulfillmentOrderLineItems"] = items }),
                ["trackingInfo"] = new JsonObject { ["number"] = push.TrackingNumber, ["company"] = push.Carrier, ["url"] = push.TrackingUrl },
                ["notifyCustomer"] = true,
            };
            var (data, error) = await GraphQlAsync(shop, CreateMutation, new JsonObject { ["fulfillment"] = fulfillment }, cancellationToken);
            if (error is not null)
            {
                return error;
            }

            if (UserErrors(data!["fulfillmentCreate"]) is { } userErrors)
            {
                return new PushResult(PushStatus.Rejected, 200, $"userErrors: {userErrors}");
            }
        }

        return PushResult.Ok(200);
    }

    public async Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(push);
        if (shop.LocationId is null)
        {
            // A shop without a location is one whose stock the hub does not manage: nothing to dead-letter.
            return new PushResult(PushStatus.NotApplicable, null, "no LocationId configured for this shop; its stock is not synced");
        }

        var (variants, error) = await GraphQlAsync(shop, VariantQuery, new JsonObject { ["query"] = $"sku:\"{push.Sku}\"" }, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var item = variants!["productVariants"]!["nodes"]!.AsArray().FirstOrDefault(v => (string?)v!["sku"] == push.Sku)?["inventoryItem"]?["id"];
        if (item is null)
        {
            return new PushResult(PushStatus.Rejected, 200, $"no variant with SKU {push.Sku}");
        }

        var input = new JsonObject
        {
            ["name"] = "available",
            ["reason"] = "correction",
            ["ignoreCompareQuantity"] = true,
            ["quantities"] = new JsonArray(new JsonObject { ["inventoryItemId"] = (string)item!, ["locationId"] = shop.LocationId, ["quantity"] = push.Available }),
        };
        var (data, setError) = await GraphQlAsync(shop, SetQuantities, new JsonObject { ["input"] = input }, cancellationToken);
        if (setError is not null)
        {
            return setError;
        }

        return UserErrors(data!["inventorySetQuantities"]) is { } userErrors
            ? new PushResult(PushStatus.Rejected, 200, $"userErrors: {userErrors}")
            : PushResult.Ok(200);
    }

    private async Task<(JsonNode? Data, PushResult? Error)> GraphQlAsync(ChannelEndpoint shop, string query, JsonObject variables, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(shop.BaseUrl!, $"/admin/api/{shop.ApiVersion}/graphql.json"))
        {
            Content = JsonContent.Create(new JsonObject { ["query"] = query, ["variables"] = variables }),
        };
        request.Headers.Add("X-Shopify-Access-Token", shop.ResolveToken());
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return (null, await PushResult.FromResponseAsync(response, cancellationToken));
        }

        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        if (body?["errors"] is JsonArray { Count: > 0 } errors)
        {
            var throttled = errors.FirstOrDefault(e => (string?)e?["extensions"]?["code"] == "THROTTLED");
            if (throttled is not null)
            {
                return (null, new PushResult(PushStatus.Retry, 200, "THROTTLED", ThrottleWait(body)));
            }

            return (null, new PushResult(PushStatus.Rejected, 200, $"errors: {PushResult.Truncate(errors.ToJsonString())}"));
        }

        return (body?["data"], null);
    }

    /// <summary>(requested cost − currently available) / restore rate, from <c>extensions.cost</c>.</summary>
    private static TimeSpan? ThrottleWait(JsonNode body)
    {
        var cost = body["extensions"]?["cost"];
        if (cost?["throttleStatus"] is not { } status || cost["requestedQueryCost"] is not { } requested)
        {
            return null;
        }

        var restoreRate = (double?)status["restoreRate"] ?? 0;
        if (restoreRate <= 0)
        {
            return null;
        }

        var missing = (double)requested - ((double?)status["currentlyAvailable"] ?? 0);
        return TimeSpan.FromSeconds(Math.Max(0, missing) / restoreRate);
    }

    private static string? UserErrors(JsonNode? payload) =>
        payload?["userErrors"] is JsonArray { Count: > 0 } errors ? PushResult.Truncate(errors.ToJsonString(new JsonSerializerOptions())) : null;
}
