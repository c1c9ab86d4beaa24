using System.Text.Json;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Fulfillment.Sinks.ChannelSync.Tests;

public class RestPushTests
{
    private const string AmazonOrder = "113-1234567-7654321";
    private const string AmazonPath = "/orders/v0/orders/" + AmazonOrder + "/shipmentConfirmation";

    private static Task<PushOutcome> PushAsync(VendorStub stub, Channel channel, string shop, string orderId, string tracking = "1Z999AA10123456784") =>
        stub.Executor.ExecuteAsync(PushMapping.Shipment(
            Shipments.Confirmed(channel, shop, orderId, tracking, ("68828574383266", "BOOT-W-42", 2)), stub.Lookup, "shipments", 3, 42, [1, 2, 3]), CancellationToken.None);

    [Fact]
    public async Task Amazon_429WithRetryAfter_WaitsExactlyThatLongAndResendsTheSamePackage()
    {
        using var stub = new VendorStub(Channel.Amazon, "A2EUQ1WTGCTBG2");
        stub.Server.Given(Request.Create().WithPath(AmazonPath).UsingPost()).InScenario("quota").WillSetStateTo("ok")
            .RespondWith(Response.Create().WithStatusCode(429).WithHeader("Retry-After", "7").WithHeader("x-amzn-RateLimit-Limit", "2.0")
                .WithBody("""{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}"""));
        stub.Server.Given(Request.Create().WithPath(AmazonPath).UsingPost()).InScenario("quota").WhenStateIs("ok")
            .RespondWith(Response.Create().WithStatusCode(204));

        var outcome = await PushAsync(stub, Channel.Amazon, "A2EUQ1WTGCTBG2", AmazonOrder);

        outcome.ShouldBe(PushOutcome.Pushed);
        stub.Waits.ShouldBe([TimeSpan.FromSeconds(7)]);
        var bodies = stub.Bodies(AmazonPath).Select(b => JsonDocument.Parse(b).RootElement).ToList();
        bodies.Count.ShouldBe(2);
        bodies.Select(b => b.GetProperty("packageDetail").GetProperty("packageReferenceId").GetString()).Distinct().Count().ShouldBe(1);
        var detail = bodies[0].GetProperty("packageDetail");
        bodies[0].GetProperty("marketplaceId").GetString().ShouldBe("ATVPDKIKX0DER");
        detail.GetProperty("trackingNumber").GetString().ShouldBe("1Z999AA10123456784");
        detail.GetProperty("orderItems")[0].GetProperty("orderItemId").GetString().ShouldBe("68828574383266");
        long.Parse(detail.GetProperty("packageReferenceId").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(0);
        stub.Recorder.Outcomes.Select(o => (o.attempt, o.outcome, o.http_status)).ShouldBe([(1, PushOutcome.Retrying, 429), (2, PushOutcome.Pushed, 204)]);
    }

    [Fact]
    public async Task Amazon_InvalidInput400_DeadLettersAtOnceKeepingTheSourceRecord()
    {
        using var stub = new VendorStub(Channel.Amazon, "A2EUQ1WTGCTBG2");
        stub.Server.Given(Request.Create().WithPath(AmazonPath).UsingPost()).RespondWith(Response.Create().WithStatusCode(400)
            .WithBody("""{"errors":[{"code":"InvalidInput","message":"Invalid carrierCode","details":""}]}"""));

        var outcome = await PushAsync(stub, Channel.Amazon, "A2EUQ1WTGCTBG2", AmazonOrder);

        outcome.ShouldBe(PushOutcome.DeadLettered);
        var dead = stub.Recorder.DeadLetters.ShouldHaveSingleItem();
        (dead.source_topic, dead.source_partition, dead.source_offset).ShouldBe(("shipments", 3, 42L));
        dead.value.ShouldBe([1, 2, 3]);
        dead.reason.ShouldContain("Invalid carrierCode");
    }

    [Fact]
    public async Task WooCommerce_Shipment_CompletesOrderWithTrackingMetaAndAddsTheNoteOnlyOnce()
    {
        using var stub = new VendorStub(Channel.WooCommerce, "acme-woo");
        stub.Server.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/727").UsingPut()).RespondWith(Response.Create().WithStatusCode(200)
            .WithHeader("Content-Type", "application/json").WithBody("""{"id":727,"status":"completed"}"""));
        stub.Server.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/727/notes").UsingGet()).InScenario("notes").WillSetStateTo("noted")
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("[]"));
        stub.Server.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/727/notes").UsingGet()).InScenario("notes").WhenStateIs("noted")
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
                .WithBody("""[{"id":281,"author":"api","note":"Shipped with UPS Ground: tracking 1Z999AA10123456784","customer_note":true}]"""));
        stub.Server.Given(Request.Create().WithPath("/wp-json/wc/v3/orders/727/notes").UsingPost()).RespondWith(Response.Create().WithStatusCode(201)
            .WithHeader("Content-Type", "application/json").WithBody("""{"id":281,"note":"Shipped"}"""));

        (await PushAsync(stub, Channel.WooCommerce, "acme-woo", "727")).ShouldBe(PushOutcome.Pushed);
        (await PushAsync(stub, Channel.WooCommerce, "acme-woo", "727")).ShouldBe(PushOutcome.Pushed);

        var update = JsonDocument.Parse(stub.Bodies("/wp-json/wc/v3/orders/727").First()).RootElement;
        update.GetProperty("status").GetString().ShouldBe("completed");
        update.GetProperty("meta_data").EnumerateArray().ShouldContain(m => m.GetProperty("key").GetString() == "_tracking_number" && m.GetProperty("value").GetString() == "1Z999AA10123456784");
        stub.Server.LogEntries.Count(e => e.RequestMessage.Method == "POST").ShouldBe(1);
        stub.Server.LogEntries.First().RequestMessage.Headers!["Authorization"].Single().ShouldStartWith("Basic ");
    }

    [Fact]
    public async Task Ebay_FulfillmentAlreadyHasTheTrackingNumber_IsNotCreatedAgain()
    {
        using var stub = new VendorStub(Channel.Ebay, "acme-ebay");
        const string path = "/sell/fulfillment/v1/order/12-03123-45678/shipping_fulfillment";
        stub.Server.Given(Request.Create().WithPath(path).UsingGet()).InScenario("f").WillSetStateTo("created").RespondWith(Response.Create().WithStatusCode(200)
            .WithHeader("Content-Type", "application/json").WithBody("""{"fulfillments":[],"total":0}"""));
        stub.Server.Given(Request.Create().WithPath(path).UsingPost()).RespondWith(Response.Create().WithStatusCode(201)
            .WithHeader("Location", "https://api.ebay.com" + path + "/9405509699937003457459"));
        stub.Server.Given(Request.Create().WithPath(path).UsingGet()).InScenario("f").WhenStateIs("created").RespondWith(Response.Create().WithStatusCode(200)
            .WithHeader("Content-Type", "application/json")
            .WithBody("""{"fulfillments":[{"fulfillmentId":"9405509699937003457459","shipmentTrackingNumber":"1Z999AA10123456784","shippingCarrierCode":"UPS","lineItems":[{"lineItemId":"10000000001","quantity":2}]}],"total":1}"""));

        (await PushAsync(stub, Channel.Ebay, "acme-ebay", "12-03123-45678")).ShouldBe(PushOutcome.Pushed);
        (await PushAsync(stub, Channel.Ebay, "acme-ebay", "12-03123-45678")).ShouldBe(PushOutcome.Pushed);

        stub.Server.LogEntries.Count(e => e.RequestMessage.Method == "POST").ShouldBe(1);
        var created = JsonDocument.Parse(stub.Bodies(path).Single(b => b.Length > 0)).RootElement;
        created.GetProperty("trackingNumber").GetString().ShouldBe("1Z999AA10123456784");
        created.GetProperty("shippingCarrierCode").GetString().ShouldBe("UPS");
    }

    [Fact]
    public async Task UnconfiguredShop_IsDeadLetteredWithoutAnyCall()
    {
        using var stub = new VendorStub(Channel.Amazon, "A2EUQ1WTGCTBG2");

        (await PushAsync(stub, Channel.Amazon, "SOMEONE-ELSE", AmazonOrder)).ShouldBe(PushOutcome.DeadLettered);

        stub.Server.LogEntries.ShouldBeEmpty();
        stub.Recorder.DeadLetters.ShouldHaveSingleItem().error_type.ShouldBe("Unconfigured");
    }
}
