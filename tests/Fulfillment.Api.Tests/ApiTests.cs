using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fulfillment.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class ApiTests(ApiFixture f)
{
    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    private static async Task<JsonElement> Ok(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await Json(response);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, Uri? Location)> Send(
        HttpClient client, HttpMethod method, string path, string json, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response.Headers.Location);
    }

    private Task<bool> CommandApplied(string id) => Task.Run(async () =>
        (await Ok(f.Acme, $"/commands/{id}")).GetProperty("status").GetString() == "applied");

    [Theory]
    [InlineData("/orders")]
    [InlineData("/stock")]
    [InlineData("/availability/SKU-1")]
    [InlineData("/orders/o-1/audit")]
    public async Task AnyViewEndpoint_MissingOrInvalidKey_Returns401Problem(string path)
    {
        using var missing = await f.Anonymous.GetAsync(new Uri(path, UriKind.Relative));
        using var wrong = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        wrong.Headers.Add("X-Api-Key", "not-a-key");
        using var invalid = await f.Anonymous.SendAsync(wrong);

        missing.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        invalid.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await Json(missing)).GetProperty("title").GetString().ShouldBe("Missing or invalid API key");
    }

    [Fact]
    public async Task OpenApiAndReferencePage_WithoutKey_DescribeEveryEndpoint()
    {
        var document = await Ok(f.Anonymous, "/openapi/v1.json");
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        paths.ShouldContain("/orders/{orderId}/audit");
        paths.ShouldContain("/pools/{pool}/transfers/{transferId}/ship");
        paths.ShouldContain("/availability/{sku}");
        paths.ShouldContain("/pools/{pool}/bundles/{bundleSku}");
        paths.ShouldContain("/pools/{pool}/channel-locations");
        paths.ShouldContain("/pools/{pool}/settings");
        using var page = await f.Anonymous.GetAsync(new Uri("/scalar/v1", UriKind.Relative));
        page.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await page.Content.ReadAsStringAsync()).ShouldContain("<html", Case.Insensitive);
    }

    [Fact]
    public async Task Orders_ListFilterAndPage_OnlyOwnPools()
    {
        var all = await Ok(f.Acme, "/orders");
        all.GetProperty("total").GetInt64().ShouldBeGreaterThanOrEqualTo(2);
        all.GetProperty("items").EnumerateArray().ShouldAllBe(o => o.GetProperty("pool_id").GetString() != "pool-g");

        var backordered = await Ok(f.Acme, "/orders?status=backordered");
        backordered.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("order_id").GetString()).ShouldBe(["o-2"]);

        var second = await Ok(f.Acme, "/orders?pageSize=1&page=2&status=allocated");
        second.GetProperty("pageNumber").GetInt32().ShouldBe(2);
        second.GetProperty("items").GetArrayLength().ShouldBe(0);

        var globex = await Ok(f.Globex, "/orders");
        globex.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("order_id").GetString()).ShouldBe(["o-g"]);
    }

    [Theory]
    [InlineData("/orders?pageSize=0", "pageSize")]
    [InlineData("/stock?page=0", "page")]
    [InlineData("/backorders?pageSize=501", "pageSize")]
    public async Task Lists_BadPaging_Return400WithFieldErrors(string path, string field)
    {
        using var response = await f.Acme.GetAsync(new Uri(path, UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await Json(response)).GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task OrderDetail_OwnOrder_HasLinesAllocationsRuleTrailAndSyncState_OtherTenantGets404()
    {
        var order = await Ok(f.Acme, "/orders/o-1");
        order.GetProperty("status").GetString().ShouldBe("allocated");
        order.GetProperty("sync_state").GetString().ShouldBe("failed");
        order.GetProperty("lines").GetArrayLength().ShouldBe(2);
        order.GetProperty("allocations").EnumerateArray().Select(a => a.GetProperty("location_id").GetString()).ShouldBe(["WH1", "WH2"]);
        order.GetProperty("allocations")[0].GetProperty("rule_trail").GetArrayLength().ShouldBe(2);
        order.GetProperty("channel_pushes")[0].GetProperty("outcome").GetString().ShouldBe("Failed");

        using var foreign = await f.Globex.GetAsync(new Uri("/orders/o-1", UriKind.Relative));
        foreign.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using var missing = await f.Acme.GetAsync(new Uri("/orders/nope", UriKind.Relative));
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Audit_OwnOrder_TimelineFromRawDelivery_OtherTenantGets404()
    {
        var audit = await Ok(f.Acme, "/orders/o-1/audit");
        var kinds = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        kinds.ShouldBe(["RawDelivery", "OrderPlaced", "AllocationDecided", "ChannelPushFailed"]);
        audit.GetProperty("entries")[2].GetProperty("summary").GetProperty("rule_trail").GetArrayLength().ShouldBe(2);

        using var foreign = await f.Globex.GetAsync(new Uri("/orders/o-1/audit", UriKind.Relative));
        foreign.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task StockViews_PerCellPerSkuPerLocationAndAvailability_OnlyOwnPools()
    {
        (await Ok(f.Acme, "/stock?sku=SKU-1")).GetProperty("total").GetInt64().ShouldBe(2);
        (await Ok(f.Acme, "/stock?location=WH2")).GetProperty("items")[0].GetProperty("channel_available_to_sell")[0].GetProperty("available_to_sell").GetInt32().ShouldBe(5);
        (await Ok(f.Acme, "/stock/by-sku?sku=SKU-1")).GetProperty("items")[0].GetProperty("on_hand").GetInt64().ShouldBe(15);
        (await Ok(f.Acme, "/stock/by-location")).GetProperty("total").GetInt64().ShouldBe(2);

        var availability = await Ok(f.Acme, "/availability/SKU-1");
        availability.GetProperty("available").GetInt64().ShouldBe(13);
        availability.GetProperty("locations").GetArrayLength().ShouldBe(2);
        availability.GetProperty("freshness").GetString().ShouldNotBeNullOrEmpty();
        (await Ok(f.Globex, "/availability/SKU-1")).GetProperty("available").GetInt64().ShouldBe(99);

        using var foreignPool = await f.Globex.GetAsync(new Uri("/stock?pool=pool-a", UriKind.Relative));
        foreignPool.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using var unknown = await f.Acme.GetAsync(new Uri("/availability/NO-SUCH-SKU", UriKind.Relative));
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ReportingAndOperationalViews_Return200WithRows()
    {
        (await Ok(f.Acme, "/backorders")).GetProperty("items")[0].GetProperty("order_id").GetString().ShouldBe("o-2");
        (await Ok(f.Acme, "/reports/locations/daily?pool=pool-a")).GetProperty("items").EnumerateArray()
            .Select(r => r.GetProperty("location_id").GetString()).Order().ShouldBe(["WH1", "WH2"]);
        (await Ok(f.Acme, "/reports/locations/health?pool=pool-a")).GetProperty("items")[0].GetProperty("open_backorder_lines").GetInt64().ShouldBe(1);
        (await Ok(f.Acme, "/dead-letters")).GetProperty("total").GetInt64().ShouldBe(0);
        (await Ok(f.Acme, "/transfers")).GetProperty("pageNumber").GetInt32().ShouldBe(1);
    }

    [Fact]
    public async Task TransferCommands_CreateShipReceive_ProducedAndVisibleAsReceivedTransfer()
    {
        var created = await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/transfers",
            """{"transferId":"t-100","fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","quantity":4}]}""");
        created.Status.ShouldBe(HttpStatusCode.Accepted);
        var id = created.Body.GetProperty("commandId").GetString()!;
        created.Location!.ToString().ShouldBe($"/commands/{id}");
        (await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/transfers/t-100/ship",
            """{"fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","quantity":4}],"carrier":"dhl","trackingNumber":"T1"}""")).Status.ShouldBe(HttpStatusCode.Accepted);
        var received = await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/transfers/t-100/receive",
            """{"fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","shippedQuantity":4,"receivedQuantity":3}]}""");
        received.Status.ShouldBe(HttpStatusCode.Accepted);

        await ApiFixture.Eventually(() => CommandApplied(received.Body.GetProperty("commandId").GetString()!));
        var transfer = await Ok(f.Acme, "/transfers/t-100");
        transfer.GetProperty("status").GetString().ShouldBe("received");
        transfer.GetProperty("carrier").GetString().ShouldBe("dhl");
        transfer.GetProperty("lines")[0].GetProperty("received_quantity").GetInt32().ShouldBe(3);
        (await Ok(f.Acme, $"/commands/{id}")).GetProperty("kind").GetString().ShouldBe("TransferRequested");
        using var foreignCommand = await f.Globex.GetAsync(new Uri($"/commands/{id}", UriKind.Relative));
        foreignCommand.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using var foreignTransfer = await f.Globex.GetAsync(new Uri("/transfers/t-100", UriKind.Relative));
        foreignTransfer.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ShipConfirmation_Valid_ProducesShipmentVisibleOnOrder()
    {
        var shipped = await Send(f.Acme, HttpMethod.Post, "/pools/pool-b/shipments",
            """
            {"shipmentId":"s-api-1","orderId":"o-3","channel":"Shopify","shopId":"shop-1","channelOrderId":"c-o-3","locationId":"WH1",
             "carrier":"ups","service":"ground","trackingNumber":"1ZAPI","trackingUrl":"https://ups.example/1ZAPI",
             "lines":[{"lineId":"l1","sku":"SKU-1","quantity":2}]}
            """);
        shipped.Status.ShouldBe(HttpStatusCode.Accepted, shipped.Body.ToString());

        await ApiFixture.Eventually(() => CommandApplied(shipped.Body.GetProperty("commandId").GetString()!));
        var order = await Ok(f.Acme, "/orders/o-3");
        order.GetProperty("shipments")[0].GetProperty("tracking_number").GetString().ShouldBe("1ZAPI");
        order.GetProperty("status").GetString().ShouldBe("partially_shipped");
    }

    [Fact]
    public async Task StockAndSetupCommands_Valid_Return202AndReachViews()
    {
        var commands = new (HttpMethod Method, string Path, string Json)[]
        {
            (HttpMethod.Post, "/pools/pool-a/stock/receive", """{"locationId":"WH1","receiptId":"po-1","lines":[{"sku":"SKU-1","quantity":5}]}"""),
            (HttpMethod.Post, "/pools/pool-a/stock/adjust", """{"locationId":"WH1","reason":"Damaged","lines":[{"sku":"SKU-1","quantity":-1}]}"""),
            (HttpMethod.Post, "/pools/pool-a/stock/count", """{"locationId":"WH1","lines":[{"sku":"SKU-1","quantity":0}]}"""),
            (HttpMethod.Put, "/pools/pool-b/locations/WH9", """{"name":"Reno","kind":"ThirdParty","active":true,"countryCode":"us","countriesServed":["US","CA"],"priority":2,"provider":"shipbob"}"""),
            (HttpMethod.Put, "/pools/pool-a/routing-rules", """{"channel":"Shopify","rules":[{"kind":"MinimizeSplits"},{"kind":"PreferLocations","locationIds":["WH1"]}],"allowSplit":true}"""),
            (HttpMethod.Put, "/pools/pool-a/safety-stock", """{"sku":"SKU-1","locationId":"WH1","quantity":2}"""),
        };
        var ids = new List<string>();
        foreach (var (method, path, json) in commands)
        {
            var result = await Send(f.Acme, method, path, json);
            result.Status.ShouldBe(HttpStatusCode.Accepted, $"{path}: {result.Body}");
            ids.Add(result.Body.GetProperty("commandId").GetString()!);
        }

        foreach (var id in ids)
        {
            await ApiFixture.Eventually(() => CommandApplied(id));
        }

        (await Ok(f.Acme, "/locations?pool=pool-b")).GetProperty("items")[0].GetProperty("countries_served").EnumerateArray().Select(c => c.GetString()).ShouldBe(["US", "CA"]);
        (await Ok(f.Acme, "/routing-rules")).GetProperty("items")[0].GetProperty("rules").GetArrayLength().ShouldBe(2);
        (await Ok(f.Acme, "/safety-stock?sku=SKU-1")).GetProperty("items")[0].GetProperty("quantity").GetInt32().ShouldBe(2);
    }

    [Theory]
    [InlineData("POST", "/pools/pool-a/stock/receive", """{"locationId":"","lines":[{"sku":"SKU-1","quantity":0}]}""", "locationId,lines[0].quantity")]
    [InlineData("POST", "/pools/pool-a/stock/adjust", """{"locationId":"WH1","reason":"Sunspots","lines":[{"sku":"SKU-1","quantity":0}]}""", "reason,lines[0].quantity")]
    [InlineData("POST", "/pools/pool-a/stock/count", """{"locationId":"WH1","lines":[]}""", "lines")]
    [InlineData("POST", "/pools/pool-a/transfers", """{"fromLocationId":"WH1","toLocationId":"WH1","lines":[{"sku":"","quantity":1}]}""", "toLocationId,lines[0].sku")]
    [InlineData("POST", "/pools/pool-a/transfers/t-1/ship", """{"toLocationId":"WH2","lines":[{"sku":"A","quantity":-2}]}""", "fromLocationId,lines[0].quantity")]
    [InlineData("POST", "/pools/pool-a/transfers/t-1/receive", """{"fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"A","shippedQuantity":1,"receivedQuantity":-1}]}""", "lines[0].receivedQuantity")]
    [InlineData("POST", "/pools/pool-a/shipments", """{"orderId":"o-1","channel":"Myspace","shopId":"s","channelOrderId":"c","locationId":"WH1","carrier":"","trackingUrl":"not a url","lines":[]}""", "channel,carrier,trackingNumber,trackingUrl,lines")]
    [InlineData("PUT", "/pools/pool-a/locations/WH1", """{"name":"","kind":"Castle","countryCode":"USA","countriesServed":["1"]}""", "name,kind,countryCode,countriesServed[0]")]
    [InlineData("PUT", "/pools/pool-a/routing-rules", """{"channel":"Shopify","rules":[{"kind":"Teleport"}]}""", "rules[0].kind")]
    [InlineData("PUT", "/pools/pool-a/safety-stock", """{"sku":"","quantity":-1}""", "sku,quantity")]
    [InlineData("PUT", "/pools/pool-a/bundles/KIT-1", """{"components":[]}""", "components")]
    [InlineData("PUT", "/pools/pool-a/bundles/KIT-1", """{"components":[{"sku":"KIT-1","quantity":1},{"sku":"SKU-1","quantity":0},{"sku":"SKU-1","quantity":1},{"sku":"","quantity":1}]}""", "components[0].sku,components[1].quantity,components[2].sku,components[3].sku")]
    [InlineData("PUT", "/pools/pool-a/channel-locations", """{"channel":"Etsy","locationIds":["WH1","","WH1"]}""", "channel,locationIds[1],locationIds[2]")]
    [InlineData("PUT", "/pools/pool-a/settings", """{"allowOversell":true,"backorderPolicy":"Whenever"}""", "backorderPolicy")]
    public async Task Commands_InvalidBody_Return400WithEveryFieldError(string method, string path, string json, string fields)
    {
        var result = await Send(f.Acme, new HttpMethod(method), path, json);

        result.Status.ShouldBe(HttpStatusCode.BadRequest);
        result.Body.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal)
            .ShouldBe(fields.Split(',').Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("POST", "/pools/pool-g/stock/receive", """{"locationId":"WH1","lines":[{"sku":"SKU-1","quantity":1}]}""")]
    [InlineData("POST", "/pools/pool-g/stock/adjust", """{"locationId":"WH1","reason":"Damaged","lines":[{"sku":"SKU-1","quantity":-1}]}""")]
    [InlineData("POST", "/pools/pool-g/stock/count", """{"locationId":"WH1","lines":[{"sku":"SKU-1","quantity":0}]}""")]
    [InlineData("POST", "/pools/pool-g/transfers", """{"fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","quantity":1}]}""")]
    [InlineData("POST", "/pools/pool-g/transfers/t-1/ship", """{"fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","quantity":1}]}""")]
    [InlineData("POST", "/pools/pool-g/transfers/t-1/receive", """{"fromLocationId":"WH1","toLocationId":"WH2","lines":[{"sku":"SKU-1","shippedQuantity":1,"receivedQuantity":1}]}""")]
    [InlineData("POST", "/pools/pool-g/shipments", """{}""")]
    [InlineData("PUT", "/pools/pool-g/locations/WH1", """{"name":"x","kind":"Warehouse"}""")]
    [InlineData("PUT", "/pools/pool-g/routing-rules", """{"channel":"Shopify","rules":[{"kind":"MinimizeSplits"}]}""")]
    [InlineData("PUT", "/pools/pool-g/safety-stock", """{"sku":"SKU-1","quantity":1}""")]
    [InlineData("PUT", "/pools/pool-g/bundles/KIT-1", """{"components":[{"sku":"SKU-1","quantity":1}]}""")]
    [InlineData("DELETE", "/pools/pool-g/bundles/KIT-1", "")]
    [InlineData("PUT", "/pools/pool-g/channel-locations", """{"channel":"Shopify","locationIds":["WH1"]}""")]
    [InlineData("PUT", "/pools/pool-g/settings", """{"allowOversell":true}""")]
    public async Task Commands_PoolOfAnotherTenant_Return403_WithoutKey401(string method, string path, string json)
    {
        var result = await Send(f.Acme, new HttpMethod(method), path, json);
        result.Status.ShouldBe(HttpStatusCode.Forbidden);
        result.Body.GetProperty("title").GetString().ShouldBe("Pool not owned by this API key");
        var anonymous = await Send(f.Anonymous, new HttpMethod(method), path, json);
        anonymous.Status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("/orders")]
    [InlineData("/stock")]
    [InlineData("/stock/by-sku")]
    [InlineData("/stock/by-location")]
    [InlineData("/stock/movements")]
    [InlineData("/backorders")]
    [InlineData("/transfers")]
    [InlineData("/dead-letters")]
    [InlineData("/reports/locations/daily")]
    [InlineData("/reports/locations/health")]
    [InlineData("/locations")]
    [InlineData("/routing-rules")]
    [InlineData("/safety-stock")]
    [InlineData("/bundles")]
    [InlineData("/channel-locations")]
    [InlineData("/pool-settings")]
    public async Task EveryList_ForeignPool403_BadPaging400_OtherTenantSeesNoRowOfOurs(string path)
    {
        using var foreign = await f.Acme.GetAsync(new Uri($"{path}?pool=pool-g", UriKind.Relative));
        using var paging = await f.Acme.GetAsync(new Uri($"{path}?page=0&pageSize=1000", UriKind.Relative));
        using var anonymous = await f.Anonymous.GetAsync(new Uri(path, UriKind.Relative));
        var globex = await Ok(f.Globex, path);
        var acme = await Ok(f.Acme, path);

        foreign.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        paging.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await Json(paging)).GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal).ShouldBe(["page", "pageSize"]);
        anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        globex.GetProperty("items").EnumerateArray().ShouldAllBe(r => r.GetProperty("pool_id").GetString() == "pool-g");
        acme.GetProperty("items").EnumerateArray().ShouldAllBe(r => r.GetProperty("pool_id").GetString() != "pool-g");
    }

    [Fact]
    public async Task Availability_ForeignPool403_UnknownSku404()
    {
        using var foreign = await f.Acme.GetAsync(new Uri("/availability/SKU-1?pool=pool-g", UriKind.Relative));
        using var unknown = await f.Globex.GetAsync(new Uri("/availability/SKU-2", UriKind.Relative));

        foreign.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound, "SKU-2 is stocked only in another tenant's pools");
    }

    [Fact]
    public async Task BundleChannelLocationAndSettingsCommands_Valid_Return202AndReachViews()
    {
        var commands = new (HttpMethod Method, string Path, string Json)[]
        {
            (HttpMethod.Put, "/pools/pool-b/bundles/KIT-9", """{"components":[{"sku":"SKU-1","quantity":2},{"sku":"SKU-2","quantity":1}]}"""),
            (HttpMethod.Put, "/pools/pool-b/bundles/KIT-8", """{"components":[{"sku":"SKU-1","quantity":1}]}"""),
            (HttpMethod.Put, "/pools/pool-b/channel-locations", """{"channel":"Shopify","shopId":"shop-1","locationIds":["WH1","WH2"]}"""),
            (HttpMethod.Put, "/pools/pool-b/channel-locations", """{"channel":"Amazon","locationIds":null}"""),
            (HttpMethod.Put, "/pools/pool-b/settings", """{"allowOversell":true,"backorderPolicy":"ShipComplete"}"""),
        };
        var ids = new List<string>();
        foreach (var (method, path, json) in commands)
        {
            var result = await Send(f.Acme, method, path, json);
            result.Status.ShouldBe(HttpStatusCode.Accepted, $"{path}: {result.Body}");
            ids.Add(result.Body.GetProperty("commandId").GetString()!);
        }

        foreach (var id in ids)
        {
            await ApiFixture.Eventually(() => CommandApplied(id));
        }

        var removed = await Send(f.Acme, HttpMethod.Delete, "/pools/pool-b/bundles/KIT-8", "", "remove-kit-8");
        var again = await Send(f.Acme, HttpMethod.Delete, "/pools/pool-b/bundles/KIT-8", "", "remove-kit-8");
        removed.Status.ShouldBe(HttpStatusCode.Accepted);
        again.Body.GetProperty("commandId").GetString().ShouldBe(removed.Body.GetProperty("commandId").GetString());
        again.Body.GetProperty("status").GetString().ShouldBe("duplicate");
        await ApiFixture.Eventually(() => CommandApplied(removed.Body.GetProperty("commandId").GetString()!));

        var bundles = (await Ok(f.Acme, "/bundles?pool=pool-b")).GetProperty("items").EnumerateArray().ToList();
        bundles.Select(b => (b.GetProperty("bundle_sku").GetString(), b.GetProperty("removed").GetBoolean())).ShouldBe([("KIT-8", true), ("KIT-9", false)]);
        bundles[1].GetProperty("components").EnumerateArray().Select(c => c.GetProperty("quantity").GetInt32()).ShouldBe([2, 1]);
        var mappings = (await Ok(f.Acme, "/channel-locations?pool=pool-b")).GetProperty("items").EnumerateArray().ToList();
        mappings.Select(m => (m.GetProperty("channel").GetString(), m.GetProperty("shop_id").GetString(), m.GetProperty("all_locations").GetBoolean()))
            .ShouldBe([("Amazon", "*", true), ("Shopify", "shop-1", false)]);
        mappings[1].GetProperty("location_ids").EnumerateArray().Select(l => l.GetString()).ShouldBe(["WH1", "WH2"]);
        var settings = (await Ok(f.Acme, "/pool-settings?pool=pool-b")).GetProperty("items")[0];
        settings.GetProperty("allow_oversell").GetBoolean().ShouldBeTrue();
        settings.GetProperty("allow_split").GetBoolean().ShouldBeTrue("omitted fields take the schema's defaults");
        settings.GetProperty("backorder_policy").GetString().ShouldBe("ShipComplete");
        (await Ok(f.Globex, "/bundles")).GetProperty("total").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Commands_MalformedJson_Return400()
    {
        var result = await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/stock/receive", "{not json");
        result.Status.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Commands_SameIdempotencyKey_SameIdOnceAndConflictOnDifferentBody()
    {
        const string Body = """{"locationId":"WH1","lines":[{"sku":"SKU-7","quantity":3}]}""";
        var first = await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/stock/receive", Body, "key-42");
        var again = await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/stock/receive", Body, "key-42");
        var other = await Send(f.Acme, HttpMethod.Post, "/pools/pool-a/stock/receive", Body.Replace("3", "4", StringComparison.Ordinal), "key-42");
        var otherTenant = await Send(f.Globex, HttpMethod.Post, "/pools/pool-g/stock/receive", Body, "key-42");

        first.Status.ShouldBe(HttpStatusCode.Accepted);
        again.Status.ShouldBe(HttpStatusCode.Accepted);
        again.Body.GetProperty("commandId").GetString().ShouldBe(first.Body.GetProperty("commandId").GetString());
        again.Body.GetProperty("status").GetString().ShouldBe("duplicate");
        other.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        otherTenant.Body.GetProperty("commandId").GetString().ShouldNotBe(first.Body.GetProperty("commandId").GetString());

        var id = first.Body.GetProperty("commandId").GetString()!;
        await ApiFixture.Eventually(() => CommandApplied(id));
        await using var db = await f.Env.DataSource.OpenConnectionAsync();
        await using var count = db.CreateCommand();
        count.CommandText = $"SELECT (SELECT count(*) FROM durable.topic_archive WHERE event_id = '{id}') * 10 + (SELECT count(*) FROM {f.Schema}.events WHERE event_id = '{id}')";
        (await count.ExecuteScalarAsync()).ShouldBe(11L);
    }
}
