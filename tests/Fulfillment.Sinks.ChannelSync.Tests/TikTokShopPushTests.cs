using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Fulfillment.Sinks.ChannelSync.Tests;

public class TikTokShopPushTests
{
    private const string Shop = "7494049642642441621";
    private const string OrderId = "576461413038785752";
    private const string Tracking = "1Z999AA10123456784";
    private const string Packages = "/fulfillment/202309/orders/" + OrderId + "/packages";

    // Get Order Detail: TikTok lists one line item per unit; shipped ones carry the package's tracking number.
    private static string OrderDetail(string tracking = "") => $$$"""
        {"code":0,"message":"Success","request_id":"202309121234567890ABCDEF","data":{"orders":[{"id":"{{{OrderId}}}","status":"AWAITING_SHIPMENT",
          "line_items":[
            {"id":"577086512123755123","seller_sku":"TENT-2P-GRN","sku_id":"1729592969712207012","display_status":"AWAITING_SHIPMENT","package_id":"","tracking_number":"{{{tracking}}}"},
            {"id":"577086512123755124","seller_sku":"TENT-2P-GRN","sku_id":"1729592969712207012","display_status":"AWAITING_SHIPMENT","package_id":"","tracking_number":"{{{tracking}}}"}]}]}}
        """;

    private const string Shipped = """
        {"code":0,"message":"Success","request_id":"202309121234567890ABCDF0","data":{"order_id":"576461413038785752",
         "order_line_item_ids":["577086512123755123","577086512123755124"],"package_id":"1153132168123859123"}}
        """;

    private const string TooManyRequests = """{"code":36009002,"message":"Too many requests. Please try again later.","request_id":"202309121234567890ABCDF1"}""";

    private static IRequestBuilder Detail() => Request.Create().WithPath("/order/202309/orders").UsingGet();

    private static IRequestBuilder Ship() => Request.Create().WithPath(Packages).UsingPost();

    private static IResponseBuilder Json(string body, int status = 200) =>
        Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithBody(body);

    private static Task<PushOutcome> PushAsync(VendorStub stub, string carrier = "UPS") =>
        stub.Executor.ExecuteAsync(PushMapping.Shipment(Carrier(Shipments.Confirmed(Channel.TikTokShop, Shop, OrderId, Tracking,
            ("577086512123755123", "TENT-2P-GRN", 1), ("577086512123755124", "TENT-2P-GRN", 1)), carrier), stub.Lookup, "shipments", 0, 7, null), CancellationToken.None);

    private static Fulfillment.Schemas.Shipments.ShipmentEvent Carrier(Fulfillment.Schemas.Shipments.ShipmentEvent e, string carrier)
    {
        ((Fulfillment.Schemas.Shipments.ShipmentConfirmed)e.body).carrier = carrier;
        return e;
    }

    /// <summary>TikTok's request signature, computed independently of the pusher from what actually went over the wire:
    /// hex(HMAC-SHA256(secret, secret + path + sorted key+value pairs without sign/access_token + body + secret)).</summary>
    private static void ShouldBeSigned(ILogEntry entry)
    {
        var m = entry.RequestMessage;
        var query = m.Query!.ToDictionary(q => q.Key, q => q.Value.Single());
        var signed = new StringBuilder(VendorStub.TikTokAppSecret).Append(m.Path);
        foreach (var (key, value) in query.Where(q => q.Key is not ("sign" or "access_token")).OrderBy(q => q.Key, StringComparer.Ordinal))
        {
            signed.Append(key).Append(value);
        }

        signed.Append(m.Body ?? "").Append(VendorStub.TikTokAppSecret);
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(VendorStub.TikTokAppSecret), Encoding.UTF8.GetBytes(signed.ToString())));
        query["sign"].ShouldBe(expected);
        query["app_key"].ShouldBe("6abc123def456");
        query["shop_cipher"].ShouldBe("GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3");
        long.Parse(query["timestamp"], System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(1_700_000_000);
        m.Headers!["x-tts-access-token"].ShouldBe(["test-token"]);
    }

    [Fact]
    public async Task Shipment_UnshippedLines_MarksThePackageShippedWithTrackingAndProviderSigned()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        stub.Server.Given(Detail()).RespondWith(Json(OrderDetail()));
        stub.Server.Given(Ship()).RespondWith(Json(Shipped));

        (await PushAsync(stub)).ShouldBe(PushOutcome.Pushed);

        var ship = stub.Server.LogEntries.Single(e => e.RequestMessage.Path == Packages);
        var body = JsonDocument.Parse(ship.RequestMessage.Body!).RootElement;
        body.GetProperty("tracking_number").GetString().ShouldBe(Tracking);
        body.GetProperty("shipping_provider_id").GetString().ShouldBe("6617675021119438597");
        body.GetProperty("order_line_item_ids").EnumerateArray().Select(i => i.GetString()).ShouldBe(["577086512123755123", "577086512123755124"]);
        foreach (var entry in stub.Server.LogEntries)
        {
            ShouldBeSigned(entry);
        }

        stub.Server.LogEntries.First().RequestMessage.Query!["ids"].Single().ShouldBe(OrderId);
        var outcome = stub.Recorder.Outcomes.ShouldHaveSingleItem();
        (outcome.outcome, outcome.operation, outcome.channel, outcome.target_id).ShouldBe((PushOutcome.Pushed, PushOperation.CreateFulfillment, Channel.TikTokShop, OrderId));
    }

    [Fact]
    public async Task Shipment_429WithRetryAfter_WaitsThatLongAndShipsOnce()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        stub.Server.Given(Detail()).RespondWith(Json(OrderDetail()));
        stub.Server.Given(Ship()).InScenario("quota").WillSetStateTo("ok").RespondWith(Json(TooManyRequests, 429).WithHeader("Retry-After", "3"));
        stub.Server.Given(Ship()).InScenario("quota").WhenStateIs("ok").RespondWith(Json(Shipped));

        (await PushAsync(stub)).ShouldBe(PushOutcome.Pushed);

        stub.Waits.ShouldBe([TimeSpan.FromSeconds(3)]);
        stub.Recorder.Outcomes.Select(o => (o.attempt, o.outcome, o.http_status)).ShouldBe([(1, PushOutcome.Retrying, 429), (2, PushOutcome.Pushed, 200)]);
        stub.Recorder.Outcomes[0].error!.ShouldContain("36009002");
    }

    [Fact]
    public async Task Shipment_ResponseLostAfterTikTokShipped_RetryFindsTheTrackingAndDoesNotShipAgain()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        stub.Server.Given(Detail()).InScenario("lost").RespondWith(Json(OrderDetail()));
        stub.Server.Given(Ship()).InScenario("lost").WillSetStateTo("shipped").RespondWith(Response.Create().WithStatusCode(504).WithBody("upstream request timeout"));
        stub.Server.Given(Detail()).InScenario("lost").WhenStateIs("shipped").RespondWith(Json(OrderDetail(Tracking)));

        (await PushAsync(stub)).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.Count(e => e.RequestMessage.Path == Packages).ShouldBe(1);
        stub.Recorder.Outcomes.Select(o => (o.outcome, o.http_status)).ShouldBe([(PushOutcome.Retrying, 504), (PushOutcome.Pushed, 200)]);
        stub.Recorder.Outcomes[1].error.ShouldBe("already on the channel; not sent again");
    }

    [Fact]
    public async Task Shipment_BusinessErrorCode_IsDeadLetteredAtOnce()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        stub.Server.Given(Detail()).RespondWith(Json(OrderDetail()));
        stub.Server.Given(Ship()).RespondWith(Json("""
            {"code":21011001,"message":"The order status does not allow this operation.","request_id":"202309121234567890ABCDF2","data":{}}
            """));

        (await PushAsync(stub)).ShouldBe(PushOutcome.DeadLettered);

        stub.Server.LogEntries.Count(e => e.RequestMessage.Path == Packages).ShouldBe(1);
        stub.Waits.ShouldBeEmpty();
        var dead = stub.Recorder.DeadLetters.ShouldHaveSingleItem();
        dead.error_type.ShouldBe("Rejected");
        dead.reason.ShouldContain("21011001");
        (dead.source_topic, dead.source_offset).ShouldBe(("shipments", 7L));
    }

    [Fact]
    public async Task Shipment_PersistentInternalError_RetriesBoundedTimesThenDeadLetters()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop, maxAttempts: 3);
        stub.Server.Given(Detail()).RespondWith(Json("""{"code":36009003,"message":"Internal error. Please try again later.","request_id":"202309121234567890ABCDF3"}"""));

        (await PushAsync(stub)).ShouldBe(PushOutcome.DeadLettered);

        stub.Server.LogEntries.Count().ShouldBe(3);
        stub.Waits.Count.ShouldBe(2);
        stub.Recorder.Outcomes.Select(o => o.outcome).ShouldBe([PushOutcome.Retrying, PushOutcome.Retrying, PushOutcome.DeadLettered]);
        stub.Recorder.DeadLetters.ShouldHaveSingleItem().error_type.ShouldBe("RetriesExhausted");
    }

    // An order TikTok shows shipped: its line items carry the package id and the tracking number they shipped under.
    private static string ShippedDetail(params (string LineId, string PackageId, string Tracking)[] lines)
    {
        var items = string.Join(',', lines.Select(l => $$"""
            {"id":"{{l.LineId}}","seller_sku":"TENT-2P-GRN","sku_id":"1729592969712207012","display_status":"IN_TRANSIT","package_id":"{{l.PackageId}}","tracking_number":"{{l.Tracking}}"}
            """));
        return $$$"""
            {"code":0,"message":"Success","request_id":"202309121234567890ABCDF4","data":{"orders":[{"id":"{{{OrderId}}}","status":"IN_TRANSIT","line_items":[{{{items}}}]}]}}
            """;
    }

    private const string Updated = """{"code":0,"message":"Success","request_id":"202309121234567890ABCDF5","data":{}}""";

    [Fact]
    public async Task Shipment_PackageAlreadyShippedWithOtherTracking_UpdatesShippingInfoSignedAndShipsNothing()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        const string update = "/fulfillment/202309/orders/" + OrderId + "/shipping_info/update";
        stub.Server.Given(Detail()).RespondWith(Json(ShippedDetail(
            ("577086512123755123", "1153132168123859123", "1ZWRONG0000000001"), ("577086512123755124", "1153132168123859123", "1ZWRONG0000000001"))));
        stub.Server.Given(Request.Create().WithPath(update).UsingPost()).RespondWith(Json(Updated));

        (await PushAsync(stub)).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.ShouldNotContain(e => e.RequestMessage.Path == Packages);
        var call = stub.Server.LogEntries.Single(e => e.RequestMessage.Path == update);
        var body = JsonDocument.Parse(call.RequestMessage.Body!).RootElement;
        body.GetProperty("tracking_number").GetString().ShouldBe(Tracking);
        body.GetProperty("shipping_provider_id").GetString().ShouldBe("6617675021119438597");
        foreach (var entry in stub.Server.LogEntries)
        {
            ShouldBeSigned(entry);
        }

        stub.Recorder.Outcomes.ShouldHaveSingleItem().outcome.ShouldBe(PushOutcome.Pushed);
    }

    [Fact]
    public async Task Shipment_CorrectionOfOnePackageOfASplitOrder_UpdatesThatPackageOnly()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        const string packageUpdate = "/fulfillment/202309/packages/1153132168123859123/shipping_info/update";
        stub.Server.Given(Detail()).RespondWith(Json(ShippedDetail(
            ("577086512123755123", "1153132168123859123", "1ZWRONG0000000001"), ("577086512123755124", "1153132168123859123", "1ZWRONG0000000001"),
            ("577086512123755125", "1153132168123859124", "1ZOTHER0000000002"))));
        stub.Server.Given(Request.Create().WithPath(packageUpdate).UsingPost()).RespondWith(Json(Updated));

        (await PushAsync(stub)).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.Where(e => e.RequestMessage.Method == "POST").Select(e => e.RequestMessage.Path).ShouldBe([packageUpdate]);
        JsonDocument.Parse(stub.Server.LogEntries.Single(e => e.RequestMessage.Path == packageUpdate).RequestMessage.Body!)
            .RootElement.GetProperty("tracking_number").GetString().ShouldBe(Tracking);
        ShouldBeSigned(stub.Server.LogEntries.Single(e => e.RequestMessage.Path == packageUpdate));
    }

    [Fact]
    public async Task Shipment_CorrectionRetriedAfterLostResponse_FindsTheNewTrackingAndUpdatesOnce()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        const string update = "/fulfillment/202309/orders/" + OrderId + "/shipping_info/update";
        stub.Server.Given(Detail()).InScenario("fix").RespondWith(Json(ShippedDetail(
            ("577086512123755123", "1153132168123859123", "1ZWRONG0000000001"), ("577086512123755124", "1153132168123859123", "1ZWRONG0000000001"))));
        stub.Server.Given(Request.Create().WithPath(update).UsingPost()).InScenario("fix").WillSetStateTo("fixed")
            .RespondWith(Response.Create().WithStatusCode(504).WithBody("upstream request timeout"));
        stub.Server.Given(Detail()).InScenario("fix").WhenStateIs("fixed").RespondWith(Json(ShippedDetail(
            ("577086512123755123", "1153132168123859123", Tracking), ("577086512123755124", "1153132168123859123", Tracking))));

        (await PushAsync(stub)).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.Count(e => e.RequestMessage.Path == update).ShouldBe(1);
        stub.Recorder.Outcomes.Select(o => (o.outcome, o.http_status)).ShouldBe([(PushOutcome.Retrying, 504), (PushOutcome.Pushed, 200)]);
        stub.Recorder.Outcomes[1].error.ShouldBe("already on the channel; not sent again");
    }

    [Fact]
    public async Task Shipment_SomeLinesShippedUnderOtherTrackingSomeNot_IsRefusedWithoutAnyPost()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        stub.Server.Given(Detail()).RespondWith(Json(ShippedDetail(
            ("577086512123755123", "1153132168123859123", "1ZWRONG0000000001"), ("577086512123755124", "", ""))));

        (await PushAsync(stub)).ShouldBe(PushOutcome.DeadLettered);

        stub.Server.LogEntries.ShouldNotContain(e => e.RequestMessage.Method == "POST");
        stub.Recorder.DeadLetters.ShouldHaveSingleItem().reason.ShouldContain("cannot both ship and correct");
    }

    [Fact]
    public async Task Shipment_CarrierWithoutProviderId_IsRefusedWithoutAnyCall()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);

        (await PushAsync(stub, carrier: "Canada Post")).ShouldBe(PushOutcome.DeadLettered);

        stub.Server.LogEntries.ShouldBeEmpty();
        stub.Recorder.DeadLetters.Single().reason.ShouldContain("ShippingProviders:Canada Post");
    }

    [Fact]
    public async Task Stock_FindsTheSkuBySellerSkuAndSetsItsQuantityAtTheWarehouse()
    {
        using var stub = new VendorStub(Channel.TikTokShop, Shop);
        stub.Server.Given(Request.Create().WithPath("/product/202309/products/search").UsingPost()).RespondWith(Json("""
            {"code":0,"message":"Success","request_id":"202309121234567890ABCDF4","data":{"total_count":1,"next_page_token":"",
             "products":[{"id":"1729592969712207008","title":"2P tent","status":"ACTIVATE",
               "skus":[{"id":"1729592969712207012","seller_sku":"TENT-2P-GRN","inventory":[{"warehouse_id":"7068517275539719942","quantity":3}]},
                       {"id":"1729592969712207013","seller_sku":"TENT-2P-RED","inventory":[{"warehouse_id":"7068517275539719942","quantity":9}]}]}]}}
            """));
        stub.Server.Given(Request.Create().WithPath("/product/202309/products/1729592969712207008/inventory/update").UsingPost())
            .RespondWith(Json("""{"code":0,"message":"Success","request_id":"202309121234567890ABCDF5","data":{}}"""));
        var push = new StockPush("stock:1", "pool-acme", "evt-1", Channel.TikTokShop, Shop, "TENT-2P-GRN", 7, DateTime.UtcNow);

        (await stub.Executor.ExecuteAsync(PushMapping.Stock(push, "stock-levels"), CancellationToken.None)).ShouldBe(PushOutcome.Pushed);

        JsonDocument.Parse(stub.Server.LogEntries.First().RequestMessage.Body!).RootElement.GetProperty("seller_skus")[0].GetString().ShouldBe("TENT-2P-GRN");
        var update = JsonDocument.Parse(stub.Bodies("/inventory/update").Single()).RootElement.GetProperty("skus")[0];
        update.GetProperty("id").GetString().ShouldBe("1729592969712207012");
        var inventory = update.GetProperty("inventory")[0];
        (inventory.GetProperty("warehouse_id").GetString(), inventory.GetProperty("quantity").GetInt32()).ShouldBe(("7068517275539719942", 7));
        foreach (var entry in stub.Server.LogEntries)
        {
            ShouldBeSigned(entry);
        }

        stub.Recorder.Outcomes.Single().operation.ShouldBe(PushOperation.SetInventory);
    }
}
