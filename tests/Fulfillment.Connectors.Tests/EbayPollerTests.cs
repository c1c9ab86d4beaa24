using System.Text;
using Fulfillment.Connectors.Channels;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;
using Fulfillment.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace Fulfillment.Connectors.Tests;

/// <summary>eBay getOrders against a local stub replaying the Fulfillment API's documented response shape.</summary>
[Collection(ConnectorStackCollection.Name)]
public sealed class EbayPollerTests(ConnectorStack stack) : IDisposable
{
    private const string OrdersPath = "/sell/fulfillment/v1/order";
    private readonly WireMockServer _api = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePorts.ConsecutiveRange()}"] });
    private readonly HttpClient _http = new();

    private ChannelShop ApiShop()
    {
        var options = new ChannelsOptions();
        options.Shops.Add(new ShopOptions { Channel = Channel.Ebay, ShopId = ConnectorStack.EbaySeller, PoolId = "unused", ApiBaseUrl = new Uri(_api.Urls[0]), ApiToken = "v^1.1#i^1#oauth-user-token" });
        return new ShopDirectory(options).Find(Channel.Ebay, ConnectorStack.EbaySeller)!;
    }

    private static string Order(string orderId, string modified, string sku2 = "STOVE-MINI", string cancelState = "NONE_REQUESTED")
    {
        var requests = cancelState == "CANCELED" ? """{"cancelReason":"BUYER_ASKED_CANCEL","cancelRequestState":"COMPLETED"}""" : "";
        return $$"""
        {"orderId":"{{orderId}}","legacyOrderId":"110123456789-{{orderId[^4..]}}","creationDate":"2025-11-21T10:15:30.000Z","lastModifiedDate":"{{modified}}",
         "orderFulfillmentStatus":"NOT_STARTED","orderPaymentStatus":"PAID","sellerId":"{{ConnectorStack.EbaySeller}}",
         "buyer":{"username":"buyer_jane","taxAddress":{"stateOrProvince":"CA","postalCode":"95125","countryCode":"US"} },
         "pricingSummary":{"priceSubtotal":{"value":"84.97","currency":"USD"},"deliveryCost":{"value":"5.00","currency":"USD"},"total":{"value":"89.97","currency":"USD"} },
         "cancelStatus":{"cancelState":"{{cancelState}}","cancelRequests":[{{requests}}]},
         "paymentSummary":{"totalDueSeller":{"value":"82.15","currency":"USD"},"payments":[{"paymentMethod":"EBAY","paymentStatus":"PAID"}]},
         "fulfillmentStartInstructions":[{"fulfillmentInstructionsType":"SHIP_TO","minEstimatedDeliveryDate":"2025-11-24T08:00:00.000Z",
           "maxEstimatedDeliveryDate":"2025-11-26T08:00:00.000Z","ebaySupportedFulfillment":false,
           "shippingStep":{"shipTo":{"fullName":"eBay Global Shipping Center","contactAddress":{"addressLine1":"1850 Airport Exchange Blvd","addressLine2":"#200",
             "city":"Erlanger","stateOrProvince":"KY","postalCode":"41025-2501","countryCode":"US"},"primaryPhone":{"phoneNumber":"8595551234"} },
             "shippingCarrierCode":"USPS","shippingServiceCode":"USPSPriority"},
           "finalDestinationAddress":{"addressLine1":"10 Downing St","city":"London","postalCode":"SW1A 2AA","countryCode":"GB"} }],
         "fulfillmentHrefs":[],
         "lineItems":[
           {"lineItemId":"10012345678901","legacyItemId":"110123456789","sku":"TENT-2P-GRN","title":"Trail Tent 2P","lineItemCost":{"value":"59.98","currency":"USD"},
            "quantity":2,"soldFormat":"FIXED_PRICE","listingMarketplaceId":"EBAY_US","purchaseMarketplaceId":"EBAY_US","lineItemFulfillmentStatus":"NOT_STARTED",
            "total":{"value":"59.98","currency":"USD"},"lineItemFulfillmentInstructions":{"shipByDate":"2025-11-23T07:59:59.000Z","guaranteedDelivery":false} },
           {"lineItemId":"10012345678902","legacyItemId":"110987654321","sku":"{{sku2}}","title":"Mini Stove","lineItemCost":{"value":"24.99","currency":"USD"},
            "quantity":1,"soldFormat":"FIXED_PRICE","listingMarketplaceId":"EBAY_US","purchaseMarketplaceId":"EBAY_US","lineItemFulfillmentStatus":"NOT_STARTED",
            "total":{"value":"24.99","currency":"USD"},"lineItemFulfillmentInstructions":{"shipByDate":"2025-11-22T07:59:59.000Z","guaranteedDelivery":false} }],
         "salesRecordReference":"{{orderId[^4..]}}"}
        """;
    }

    private static string Page(int offset, int total, string? next, params string[] orders) => $$"""
        {"href":"https://api.ebay.com/sell/fulfillment/v1/order?limit=2&offset={{offset}}","total":{{total}},"limit":2,"offset":{{offset}},
         {{(next is null ? "" : $"\"next\":\"{next}\",")}}"orders":[{{string.Join(',', orders)}}],"warnings":[]}
        """;

    private void Stub(int offset, string body) =>
        _api.Given(Request.Create().WithPath(OrdersPath).WithParam("offset", $"{offset}").WithHeader("Authorization", "Bearer v^1.1#i^1#oauth-user-token").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody(body));

    [Fact]
    public async Task GetOrders_TwoPagesByNext_NormalizesOrdersFlagsUnknownSkuKeepsMalformedAndCheckpoints()
    {
        var placed = $"12-{Random.Shared.Next(10_000, 99_999)}-{Random.Shared.Next(10_000, 99_999)}";
        var cancelled = $"12-{Random.Shared.Next(10_000, 99_999)}-{Random.Shared.Next(10_000, 99_999)}";
        var malformed = $$"""{"orderId":"12-00000-{{Random.Shared.Next(10_000, 99_999)}}","orderFulfillmentStatus":"NOT_STARTED","lineItems":[]}""";
        var placedJson = Order(placed, "2025-11-21T10:16:02.000Z", sku2: "EBAY-ONLY-SKU");
        Stub(0, Page(0, 3, "https://api.ebay.com/sell/fulfillment/v1/order?filter=lastmodifieddate:%5B2025-11-20T12:00:00.000Z..%5D&limit=2&offset=2",
            placedJson, Order(cancelled, "2025-11-21T11:00:00.000Z", cancelState: "CANCELED")));
        Stub(2, Page(2, 3, null, malformed));
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 11, 21, 12, 0, 0, TimeSpan.Zero));
        var poller = ActivatorUtilities.CreateInstance<EbayOrdersPoller>(stack.Services, _http, (TimeProvider)time);

        (await poller.PollAsync(ApiShop(), CancellationToken.None)).ShouldBe(3);

        var placedId = $"ebay:{ConnectorStack.EbaySeller}:{placed}";
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == placedId)
            && all.Any(e => e.Value.metadata.correlation_id.EndsWith(cancelled, StringComparison.Ordinal)));
        var (key, evt) = events.Single(e => e.Value.metadata.correlation_id == placedId);
        key.ShouldBe(ConnectorStack.PoolId);
        evt.metadata.source_id.ShouldBe($"order:{placed}:2025-11-21T10:16:02.000Z");
        var order = evt.body.ShouldBeOfType<OrderUpdated>().order;
        order.channel.ShouldBe(Channel.Ebay);
        order.currency.ShouldBe("USD");
        order.channel_status.ShouldBe("PAID/NOT_STARTED");
        order.requested_service_level.ShouldBe(ServiceLevel.Expedited);
        order.latest_ship_at.ShouldBe(new DateTime(2025, 11, 22, 7, 59, 59, DateTimeKind.Utc));
        // eBay International Shipping: we ship to the intermediary in shipTo, not to the buyer's final destination.
        order.shipping_address.city.ShouldBe("Erlanger");
        order.shipping_address.country_code.ShouldBe("US");
        order.lines.Select(l => (l.line_id, l.sku, l.quantity)).ShouldBe([("10012345678901", "TENT-2P-GRN", 2), ("10012345678902", "EBAY-ONLY-SKU", 1)]);
        Money.FromAvro(order.lines[0].unit_price).ShouldBe(29.99m);
        order.lines[0].flags.ShouldBeEmpty();
        order.lines[1].flags.ShouldBe([OrderLineFlag.UnknownSku]);
        events.Single(e => e.Value.metadata.correlation_id.EndsWith(cancelled, StringComparison.Ordinal)).Value.body
            .ShouldBeOfType<OrderCancelled>().reason.ShouldBe("BUYER_ASKED_CANCEL");
        var kept = (await stack.StoredAsync("ebay", Signatures.BodyHash(Encoding.UTF8.GetBytes(malformed)))).ShouldHaveSingleItem();
        kept.Status.ShouldBe("Malformed");
        kept.RejectionReason.ShouldBe("$.lastModifiedDate is missing (it is half of the dedupe key)");
        _api.LogEntries.First().RequestMessage.Query!["filter"].Single().ShouldBe("lastmodifieddate:[2025-11-20T12:00:00.000Z..]");
        var checkpoints = stack.Services.GetRequiredService<PollCheckpoints>();
        (await checkpoints.GetAsync("ebay", ConnectorStack.EbaySeller, CancellationToken.None)).ShouldBe("2025-11-21T11:58:00.000Z");

        // The next poll resumes from the checkpoint; the same order states again are duplicates, not new events.
        time.Advance(TimeSpan.FromMinutes(5));
        (await poller.PollAsync(ApiShop(), CancellationToken.None)).ShouldBe(3);
        _api.LogEntries.Last(e => e.RequestMessage.Query!["offset"].Single() == "0").RequestMessage.Query!["filter"].Single()
            .ShouldBe("lastmodifieddate:[2025-11-21T11:58:00.000Z..]");
        (await stack.StoredAsync("ebay", $"order:{placed}:2025-11-21T10:16:02.000Z")).Count.ShouldBe(1);
        (await checkpoints.GetAsync("ebay", ConnectorStack.EbaySeller, CancellationToken.None)).ShouldBe("2025-11-21T12:03:00.000Z");
    }

    [Fact]
    public async Task GetOrders_Throttled_KeepsTheCheckpoint()
    {
        _api.Given(Request.Create().WithPath(OrdersPath).UsingGet()).RespondWith(Response.Create().WithStatusCode(429)
            .WithHeader("Content-Type", "application/json")
            .WithBody("""{"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST","message":"Too many requests. The request limit has been reached for the resource."}]}"""));
        var seller = "throttled_" + Guid.NewGuid().ToString("N")[..8];
        var options = new ChannelsOptions();
        options.Shops.Add(new ShopOptions { Channel = Channel.Ebay, ShopId = seller, PoolId = "unused", ApiBaseUrl = new Uri(_api.Urls[0]), ApiToken = "t" });
        var poller = ActivatorUtilities.CreateInstance<EbayOrdersPoller>(stack.Services, _http);

        (await poller.PollAsync(new ShopDirectory(options).Find(Channel.Ebay, seller)!, CancellationToken.None)).ShouldBe(0);

        (await stack.Services.GetRequiredService<PollCheckpoints>().GetAsync("ebay", seller, CancellationToken.None)).ShouldBeNull();
    }

    [Fact]
    public void Receiver_DeliveryNotFromThePoller_IsRejected()
    {
        var receiver = stack.Services.GetRequiredService<EbayReceiver>();
        var body = Encoding.UTF8.GetBytes(Order("12-11111-22222", "2025-11-21T10:16:02.000Z"));

        var result = receiver.Receive(new InboundDelivery(Schemas.Ingest.IngestTransport.Webhook, "POST", "/x", ConnectorStack.EbaySeller, [], "application/json", body, DateTime.UtcNow));

        result.Status.ShouldBe(DeliveryStatus.Unauthorized);
    }

    public void Dispose()
    {
        _api.Stop();
        _api.Dispose();
        _http.Dispose();
    }
}
