using System.Text.Json;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Fulfillment.Sinks.ChannelSync.Tests;

public class ShopifyPushTests
{
    private const string Shop = "acme-outdoor.myshopify.com";
    private const string GraphQl = "/admin/api/2025-10/graphql.json";

    // Shape of the Admin API answer to the fulfillment-state query: one open fulfillment order at one location.
    private static string OrderState(string fulfilledTracking = "")
    {
        var fulfillments = fulfilledTracking.Length == 0
            ? ""
            : "{\"id\":\"gid://shopify/Fulfillment/255858046\",\"trackingInfo\":[{\"number\":\"" + fulfilledTracking + "\"}]}";
        return $$"""
            {"data":{"order":{
              "fulfillments":[{{fulfillments}}],
              "fulfillmentOrders":{"nodes":[{"id":"gid://shopify/FulfillmentOrder/1046000778","status":"OPEN","lineItems":{"nodes":[
                {"id":"gid://shopify/FulfillmentOrderLineItem/1025578633","remainingQuantity":1,"lineItem":{"id":"gid://shopify/LineItem/866550311766439020"} },
                {"id":"gid://shopify/FulfillmentOrderLineItem/1025578634","remainingQuantity":2,"lineItem":{"id":"gid://shopify/LineItem/141249953214522974"} }]} }]} } },
             "extensions":{"cost":{"requestedQueryCost":32,"actualQueryCost":8,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":1992,"restoreRate":100.0} } } }
            """;
    }

    private const string Created = """
        {"data":{"fulfillmentCreate":{"fulfillment":{"id":"gid://shopify/Fulfillment/1069019876","status":"SUCCESS"},"userErrors":[]}},
         "extensions":{"cost":{"requestedQueryCost":24,"actualQueryCost":24,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":1976,"restoreRate":100.0}}}}
        """;

    private const string Throttled = """
        {"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],
         "extensions":{"cost":{"requestedQueryCost":202,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":2,"restoreRate":100.0}}}}
        """;

    private const string UserErrors = """
        {"data":{"fulfillmentCreate":{"fulfillment":null,"userErrors":[{"field":["fulfillment"],"message":"Fulfillment order 1046000778 has an unfulfillable status= closed."}]}},
         "extensions":{"cost":{"requestedQueryCost":24,"actualQueryCost":10,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":1990,"restoreRate":100.0}}}}
        """;

    private static IRequestBuilder Query() => Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*FulfillmentState*"));

    private static IRequestBuilder Mutation() => Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*CreateFulfillment*"));

    private static IResponseBuilder Json(string body) => Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody(body);

    private static async Task<PushOutcome> PushAsync(VendorStub stub, string tracking = "1Z999AA10123456784")
    {
        var e = Shipments.Confirmed(Channel.Shopify, Shop, "450789469", tracking, ("866550311766439020", "TENT-2P-GRN", 1), ("141249953214522974", "MUG-TI-450", 2));
        return await stub.Executor.ExecuteAsync(PushMapping.Shipment(e, stub.Lookup, "shipments", 0, 1, null), CancellationToken.None);
    }

    [Fact]
    public async Task ShipmentConfirmed_OpenFulfillmentOrder_CallsFulfillmentCreateWithTrackingAndLineItems()
    {
        using var stub = new VendorStub(Channel.Shopify, Shop);
        stub.Server.Given(Query()).RespondWith(Json(OrderState()));
        stub.Server.Given(Mutation()).RespondWith(Json(Created));

        var outcome = await PushAsync(stub);

        outcome.ShouldBe(PushOutcome.Pushed);
        var mutation = JsonDocument.Parse(stub.Bodies(GraphQl, "CreateFulfillment").Single()).RootElement.GetProperty("variables").GetProperty("fulfillment");
        mutation.GetProperty("trackingInfo").GetProperty("number").GetString().ShouldBe("1Z999AA10123456784");
        mutation.GetProperty("trackingInfo").GetProperty("company").GetString().ShouldBe("UPS");
        var byFo = mutation.GetProperty("lineItemsByFulfillmentOrder")[0];
        byFo.GetProperty("fulfillmentOrderId").GetString().ShouldBe("gid://shopify/FulfillmentOrder/1046000778");
        byFo.GetProperty("fulfillmentOrderLineItems").EnumerateArray().Select(i => (i.GetProperty("id").GetString(), i.GetProperty("quantity").GetInt32()))
            .ShouldBe([("gid://shopify/FulfillmentOrderLineItem/1025578633", 1), ("gid://shopify/FulfillmentOrderLineItem/1025578634", 2)]);
        stub.Server.LogEntries.First().RequestMessage.Headers!["X-Shopify-Access-Token"].ShouldBe(["test-token"]);
        var recorded = stub.Recorder.Outcomes.ShouldHaveSingleItem();
        (recorded.outcome, recorded.attempt, recorded.operation, recorded.target_id).ShouldBe((PushOutcome.Pushed, 1, PushOperation.CreateFulfillment, "450789469"));
    }

    [Fact]
    public async Task Throttled_ThenAvailable_WaitsTheReportedRestoreTimeAndCreatesOnce()
    {
        using var stub = new VendorStub(Channel.Shopify, Shop);
        stub.Server.Given(Query()).InScenario("cost").WillSetStateTo("restored").RespondWith(Json(Throttled));
        stub.Server.Given(Query()).InScenario("cost").WhenStateIs("restored").RespondWith(Json(OrderState()));
        stub.Server.Given(Mutation()).RespondWith(Json(Created));

        var outcome = await PushAsync(stub);

        outcome.ShouldBe(PushOutcome.Pushed);
        // (202 requested − 2 available) / 100 restored per second.
        stub.Waits.ShouldBe([TimeSpan.FromSeconds(2)]);
        stub.Calls(GraphQl, "CreateFulfillment").ShouldBe(1);
        stub.Recorder.Outcomes.Select(o => (o.attempt, o.outcome, (string?)o.error)).ShouldBe([(1, PushOutcome.Retrying, "THROTTLED"), (2, PushOutcome.Pushed, null)]);
        stub.Recorder.Outcomes[0].next_attempt_at.ShouldNotBeNull();
        stub.Recorder.Outcomes.Select(o => o.push_id).Distinct().Count().ShouldBe(1);
    }

    [Fact]
    public async Task UserErrors_AreNotRetriedAndTheShipmentIsDeadLettered()
    {
        using var stub = new VendorStub(Channel.Shopify, Shop);
        stub.Server.Given(Query()).RespondWith(Json(OrderState()));
        stub.Server.Given(Mutation()).RespondWith(Json(UserErrors));

        var outcome = await PushAsync(stub);

        outcome.ShouldBe(PushOutcome.DeadLettered);
        stub.Calls(GraphQl, "CreateFulfillment").ShouldBe(1);
        stub.Waits.ShouldBeEmpty();
        stub.Recorder.Outcomes.ShouldHaveSingleItem().outcome.ShouldBe(PushOutcome.DeadLettered);
        var dead = stub.Recorder.DeadLetters.ShouldHaveSingleItem();
        dead.reason.ShouldContain("unfulfillable status= closed");
        dead.error_type.ShouldBe("Rejected");
        dead.source_topic.ShouldBe("shipments");
    }

    [Fact]
    public async Task RetryAfterLostResponse_TrackingAlreadyOnOrder_DoesNotCreateASecondFulfillment()
    {
        using var stub = new VendorStub(Channel.Shopify, Shop);
        // First attempt: the mutation went through but the answer was lost (502 from the edge); the retry finds it.
        stub.Server.Given(Query()).InScenario("lost").WillSetStateTo("created").RespondWith(Json(OrderState()));
        stub.Server.Given(Mutation()).InScenario("lost").WhenStateIs("created").WillSetStateTo("after")
            .RespondWith(Response.Create().WithStatusCode(502).WithBody("<html><body>502 Bad Gateway</body></html>"));
        stub.Server.Given(Query()).InScenario("lost").WhenStateIs("after").RespondWith(Json(OrderState("1Z999AA10123456784")));

        var outcome = await PushAsync(stub);

        outcome.ShouldBe(PushOutcome.Pushed);
        stub.Calls(GraphQl, "CreateFulfillment").ShouldBe(1);
        stub.Recorder.Outcomes.Select(o => (o.attempt, o.outcome, o.http_status)).ShouldBe([(1, PushOutcome.Retrying, 502), (2, PushOutcome.Pushed, 200)]);
    }

    [Fact]
    public async Task Persistent5xx_RetriesBoundedTimesThenDeadLetters()
    {
        using var stub = new VendorStub(Channel.Shopify, Shop, maxAttempts: 3);
        stub.Server.Given(Query()).RespondWith(Response.Create().WithStatusCode(503).WithBody("""{"errors":"Service Unavailable"}"""));

        var outcome = await PushAsync(stub);

        outcome.ShouldBe(PushOutcome.DeadLettered);
        stub.Calls(GraphQl).ShouldBe(3);
        stub.Waits.Count.ShouldBe(2);
        stub.Waits[0].ShouldBeLessThanOrEqualTo(TimeSpan.FromMilliseconds(200));
        stub.Waits[1].ShouldBeLessThanOrEqualTo(TimeSpan.FromMilliseconds(400));
        stub.Recorder.Outcomes.Select(o => o.outcome).ShouldBe([PushOutcome.Retrying, PushOutcome.Retrying, PushOutcome.DeadLettered]);
        stub.Recorder.DeadLetters.ShouldHaveSingleItem().error_type.ShouldBe("RetriesExhausted");
    }

    [Fact]
    public async Task StockLevel_SetsAvailableAtTheConfiguredLocationForTheSkusInventoryItem()
    {
        using var stub = new VendorStub(Channel.Shopify, Shop);
        stub.Server.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*InventoryItemBySku*"))).RespondWith(Json("""
            {"data":{"productVariants":{"nodes":[{"sku":"TENT-2P-GRN","inventoryItem":{"id":"gid://shopify/InventoryItem/30322695"}}]}}}
            """));
        stub.Server.Given(Request.Create().WithPath(GraphQl).UsingPost().WithBody(new WildcardMatcher("*SetAvailable*"))).RespondWith(Json("""
            {"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":{"id":"gid://shopify/InventoryAdjustmentGroup/11"},"userErrors":[]}}}
            """));
        var push = new StockPush("stock:1", "pool-acme", "evt-1", Channel.Shopify, Shop, "TENT-2P-GRN", 7, DateTime.UtcNow);

        var outcome = await stub.Executor.ExecuteAsync(PushMapping.Stock(push, "stock-levels"), CancellationToken.None);

        outcome.ShouldBe(PushOutcome.Pushed);
        var input = JsonDocument.Parse(stub.Bodies(GraphQl, "SetAvailable").Single()).RootElement.GetProperty("variables").GetProperty("input");
        input.GetProperty("name").GetString().ShouldBe("available");
        var q = input.GetProperty("quantities")[0];
        (q.GetProperty("inventoryItemId").GetString(), q.GetProperty("locationId").GetString(), q.GetProperty("quantity").GetInt32())
            .ShouldBe(("gid://shopify/InventoryItem/30322695", "gid://shopify/Location/655441491", 7));
        stub.Recorder.Outcomes.Single().operation.ShouldBe(PushOperation.SetInventory);
    }
}
