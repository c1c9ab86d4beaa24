using System.Text.Json;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Fulfillment.Sinks.ChannelSync.Tests;

/// <summary>Available-to-sell pushed to Amazon (MFN listings only) and eBay, against their documented answers.</summary>
public class StockPushTests
{
    private const string Seller = "A2EUQ1WTGCTBG2";
    private const string Listing = "/listings/2021-08-01/items/" + Seller + "/TENT-2P-GRN";

    private static IResponseBuilder Json(string body, int status = 200) =>
        Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithBody(body);

    private static Task<PushOutcome> PushAsync(VendorStub stub, Channel channel, string shop, int available = 7) =>
        stub.Executor.ExecuteAsync(PushMapping.Stock(new StockPush($"stock:{channel}:{shop}:TENT-2P-GRN:evt-1", "pool-acme", "evt-1", channel, shop, "TENT-2P-GRN",
            available, DateTime.UtcNow), "stock-levels"), CancellationToken.None);

    private static string AmazonListing(string channelCode, int quantity) => $$"""
        {"sku":"TENT-2P-GRN","summaries":[{"marketplaceId":"ATVPDKIKX0DER","asin":"B07N4M94X4","productType":"TENT","conditionType":"new_new",
          "status":["BUYABLE","DISCOVERABLE"],"itemName":"2P tent, green","createdDate":"2024-03-01T12:00:00Z","lastUpdatedDate":"2025-11-20T08:00:00Z"}],
         "fulfillmentAvailability":[{"fulfillmentChannelCode":"{{channelCode}}","quantity":{{quantity}}}]}
        """;

    private const string Accepted = """{"sku":"TENT-2P-GRN","status":"ACCEPTED","submissionId":"f1dc2914-75dd-11ea-bc55-0242ac130003","issues":[]}""";

    [Fact]
    public async Task Amazon_MerchantFulfilledListing_MergesTheDefaultChannelQuantityWithItsProductType()
    {
        using var stub = new VendorStub(Channel.Amazon, Seller);
        stub.Server.Given(Request.Create().WithPath(Listing).UsingGet()).RespondWith(Json(AmazonListing("DEFAULT", 3)));
        stub.Server.Given(Request.Create().WithPath(Listing).UsingPatch()).RespondWith(Json(Accepted));

        (await PushAsync(stub, Channel.Amazon, Seller)).ShouldBe(PushOutcome.Pushed);

        var read = stub.Server.LogEntries.First().RequestMessage;
        (read.Query!["marketplaceIds"].Single(), string.Join(',', read.Query["includedData"])).ShouldBe(("ATVPDKIKX0DER", "summaries,fulfillmentAvailability"));
        var patch = JsonDocument.Parse(stub.Server.LogEntries.Single(e => e.RequestMessage.Method == "PATCH").RequestMessage.Body!).RootElement;
        patch.GetProperty("productType").GetString().ShouldBe("TENT");
        var op = patch.GetProperty("patches")[0];
        (op.GetProperty("op").GetString(), op.GetProperty("path").GetString()).ShouldBe(("merge", "/attributes/fulfillment_availability"));
        var value = op.GetProperty("value")[0];
        (value.GetProperty("fulfillment_channel_code").GetString(), value.GetProperty("quantity").GetInt32()).ShouldBe(("DEFAULT", 7));
        stub.Server.LogEntries.First().RequestMessage.Headers!["x-amz-access-token"].ShouldBe(["test-token"]);
        stub.Recorder.Outcomes.Single().operation.ShouldBe(PushOperation.SetInventory);
    }

    [Fact]
    public async Task Amazon_ListingFulfilledByAmazon_IsNeverPatched()
    {
        using var stub = new VendorStub(Channel.Amazon, Seller);
        stub.Server.Given(Request.Create().WithPath(Listing).UsingGet()).RespondWith(Json(AmazonListing("AMAZON_NA", 40)));
        stub.Server.Given(Request.Create().WithPath(Listing).UsingPatch()).RespondWith(Json(Accepted));

        (await PushAsync(stub, Channel.Amazon, Seller)).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.ShouldNotContain(e => e.RequestMessage.Method == "PATCH");
        stub.Recorder.Outcomes.Single().error!.ShouldContain("FBA stock is Amazon's");
        stub.Recorder.DeadLetters.ShouldBeEmpty();
    }

    [Fact]
    public async Task Amazon_QuantityAlreadyThere_IsNotPatchedAgain()
    {
        using var stub = new VendorStub(Channel.Amazon, Seller);
        stub.Server.Given(Request.Create().WithPath(Listing).UsingGet()).RespondWith(Json(AmazonListing("DEFAULT", 7)));

        (await PushAsync(stub, Channel.Amazon, Seller)).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.ShouldHaveSingleItem();
        stub.Recorder.Outcomes.Single().error.ShouldBe("already on the channel; not sent again");
    }

    [Fact]
    public async Task Amazon_Patch429ThenInvalid_RetriesAfterRetryAfterThenDeadLettersWithTheIssues()
    {
        using var stub = new VendorStub(Channel.Amazon, Seller);
        stub.Server.Given(Request.Create().WithPath(Listing).UsingGet()).RespondWith(Json(AmazonListing("DEFAULT", 3)));
        stub.Server.Given(Request.Create().WithPath(Listing).UsingPatch()).InScenario("q").WillSetStateTo("invalid")
            .RespondWith(Json("""{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}""", 429)
                .WithHeader("Retry-After", "2"));
        stub.Server.Given(Request.Create().WithPath(Listing).UsingPatch()).InScenario("q").WhenStateIs("invalid").RespondWith(Json("""
            {"sku":"TENT-2P-GRN","status":"INVALID","submissionId":"f1dc2914-75dd-11ea-bc55-0242ac130004","issues":[{"code":"90220",
             "message":"'fulfillment_availability' is required but not supplied.","severity":"ERROR","attributeNames":["fulfillment_availability"]}]}
            """));

        (await PushAsync(stub, Channel.Amazon, Seller)).ShouldBe(PushOutcome.DeadLettered);

        stub.Waits.ShouldBe([TimeSpan.FromSeconds(2)]);
        stub.Recorder.Outcomes.Select(o => (o.attempt, o.outcome, o.http_status)).ShouldBe([(1, PushOutcome.Retrying, 429), (2, PushOutcome.DeadLettered, 200)]);
        var dead = stub.Recorder.DeadLetters.ShouldHaveSingleItem();
        (dead.error_type, dead.source_topic).ShouldBe(("Rejected", "stock-levels"));
        dead.reason.ShouldContain("90220");
    }

    private const string EbayOffers = """
        {"href":"https://api.ebay.com/sell/inventory/v1/offer?sku=TENT-2P-GRN&limit=100&offset=0","total":2,"size":2,"limit":100,"offset":0,
         "offers":[{"offerId":"5005317010","sku":"TENT-2P-GRN","marketplaceId":"EBAY_US","format":"FIXED_PRICE","availableQuantity":3,"status":"PUBLISHED",
                    "listing":{"listingId":"110553293880","listingStatus":"ACTIVE","soldQuantity":4}},
                   {"offerId":"5005317011","sku":"TENT-2P-GRN","marketplaceId":"EBAY_GB","format":"FIXED_PRICE","availableQuantity":0,"status":"UNPUBLISHED"}]}
        """;

    [Fact]
    public async Task Ebay_Stock_SetsTheInventoryItemAndItsPublishedOffersInOneCall()
    {
        using var stub = new VendorStub(Channel.Ebay, "acme-ebay");
        stub.Server.Given(Request.Create().WithPath("/sell/inventory/v1/offer").UsingGet()).RespondWith(Json(EbayOffers));
        stub.Server.Given(Request.Create().WithPath("/sell/inventory/v1/bulk_update_price_quantity").UsingPost()).RespondWith(Json("""
            {"responses":[{"statusCode":200,"sku":"TENT-2P-GRN","errors":[],"warnings":[]},{"statusCode":200,"offerId":"5005317010","sku":"TENT-2P-GRN","errors":[],"warnings":[]}]}
            """));

        (await PushAsync(stub, Channel.Ebay, "acme-ebay")).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.First().RequestMessage.Query!["sku"].Single().ShouldBe("TENT-2P-GRN");
        var request = JsonDocument.Parse(stub.Bodies("/bulk_update_price_quantity").Single()).RootElement.GetProperty("requests").EnumerateArray().Single();
        request.GetProperty("sku").GetString().ShouldBe("TENT-2P-GRN");
        request.GetProperty("shipToLocationAvailability").GetProperty("quantity").GetInt32().ShouldBe(7);
        request.GetProperty("offers").EnumerateArray().Select(o => (o.GetProperty("offerId").GetString(), o.GetProperty("availableQuantity").GetInt32()))
            .ShouldBe([("5005317010", 7)]);
        stub.Server.LogEntries.First().RequestMessage.Headers!["Authorization"].ShouldBe(["Bearer test-token"]);
    }

    [Fact]
    public async Task Ebay_SkuWithoutOffers_UpdatesTheInventoryItemAlone()
    {
        using var stub = new VendorStub(Channel.Ebay, "acme-ebay");
        stub.Server.Given(Request.Create().WithPath("/sell/inventory/v1/offer").UsingGet()).RespondWith(Json("""
            {"errors":[{"errorId":25713,"domain":"API_INVENTORY","subdomain":"Selling","category":"REQUEST","message":"This Offer is not available.","parameters":[]}]}
            """, 404));
        stub.Server.Given(Request.Create().WithPath("/sell/inventory/v1/bulk_update_price_quantity").UsingPost())
            .RespondWith(Json("""{"responses":[{"statusCode":200,"sku":"TENT-2P-GRN","errors":[],"warnings":[]}]}"""));

        (await PushAsync(stub, Channel.Ebay, "acme-ebay")).ShouldBe(PushOutcome.Pushed);

        JsonDocument.Parse(stub.Bodies("/bulk_update_price_quantity").Single()).RootElement.GetProperty("requests")[0].TryGetProperty("offers", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task Ebay_429Then207WithAFailingOffer_RetriesThenDeadLettersWithTheItemError()
    {
        using var stub = new VendorStub(Channel.Ebay, "acme-ebay");
        stub.Server.Given(Request.Create().WithPath("/sell/inventory/v1/offer").UsingGet()).RespondWith(Json(EbayOffers));
        var bulk = Request.Create().WithPath("/sell/inventory/v1/bulk_update_price_quantity").UsingPost();
        stub.Server.Given(bulk).InScenario("rate").WillSetStateTo("partial").RespondWith(Json("""
            {"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST","message":"Too many requests. The request limit has been reached for the resource."}]}
            """, 429));
        stub.Server.Given(bulk).InScenario("rate").WhenStateIs("partial").RespondWith(Json("""
            {"responses":[{"statusCode":200,"sku":"TENT-2P-GRN","errors":[],"warnings":[]},
                          {"statusCode":400,"offerId":"5005317010","sku":"TENT-2P-GRN","errors":[{"errorId":25004,"domain":"API_INVENTORY","category":"REQUEST",
                           "message":"The quantity must be a valid number greater than or equal to 0."}],"warnings":[]}]}
            """, 207));

        (await PushAsync(stub, Channel.Ebay, "acme-ebay")).ShouldBe(PushOutcome.DeadLettered);

        stub.Waits.Count.ShouldBe(1);
        stub.Recorder.Outcomes.Select(o => (o.outcome, o.http_status)).ShouldBe([(PushOutcome.Retrying, 429), (PushOutcome.DeadLettered, 207)]);
        stub.Recorder.DeadLetters.Single().reason.ShouldContain("25004");
    }

    [Fact]
    public async Task Ebay_Persistent500_RetriesBoundedTimesThenDeadLetters()
    {
        using var stub = new VendorStub(Channel.Ebay, "acme-ebay", maxAttempts: 3);
        stub.Server.Given(Request.Create().WithPath("/sell/inventory/v1/offer").UsingGet()).RespondWith(Json("""
            {"errors":[{"errorId":25001,"domain":"API_INVENTORY","category":"APPLICATION","message":"A system error has occurred. Internal error."}]}
            """, 500));

        (await PushAsync(stub, Channel.Ebay, "acme-ebay")).ShouldBe(PushOutcome.DeadLettered);

        stub.Server.LogEntries.Count().ShouldBe(3);
        stub.Recorder.Outcomes.Select(o => o.outcome).ShouldBe([PushOutcome.Retrying, PushOutcome.Retrying, PushOutcome.DeadLettered]);
        stub.Recorder.DeadLetters.Single().error_type.ShouldBe("RetriesExhausted");
    }
}
