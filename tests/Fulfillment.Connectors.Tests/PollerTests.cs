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

[Collection(ConnectorStackCollection.Name)]
public sealed class PollerTests(ConnectorStack stack) : IDisposable
{
    private readonly WireMockServer _api = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePorts.ConsecutiveRange()}"] });
    private readonly HttpClient _http = new();

    private ChannelShop ApiShop(Channel channel, string shopId)
    {
        var options = new ChannelsOptions();
        var shop = new ShopOptions { Channel = channel, ShopId = shopId, PoolId = "unused", Secret = "x", ApiBaseUrl = new Uri(_api.Urls[0]), ApiToken = "token" };
        shop.MarketplaceIds.Add("ATVPDKIKX0DER");
        options.Shops.Add(shop);
        return new ShopDirectory(options).Find(channel, shopId)!;
    }

    private static string AmazonOrder(string id, string channel, string updated, string status = "Unshipped") => $$"""
        {"AmazonOrderId":"{{id}}","PurchaseDate":"2025-11-20T17:04:50Z","LastUpdateDate":"{{updated}}","OrderStatus":"{{status}}",
         "FulfillmentChannel":"{{channel}}","SalesChannel":"Amazon.com","ShipServiceLevel":"Std US D2D Dom","OrderTotal":{"CurrencyCode":"USD","Amount":"89.98"},
         "NumberOfItemsShipped":0,"NumberOfItemsUnshipped":2,"MarketplaceId":"ATVPDKIKX0DER","ShipmentServiceLevelCategory":"Standard",
         "EarliestShipDate":"2025-11-21T08:00:00Z","LatestShipDate":"2025-11-22T07:59:59Z","IsPrime":false,
         "ShippingAddress":{"Name":"Jane Doe","AddressLine1":"410 Terry Ave N","City":"Seattle","StateOrRegion":"WA","PostalCode":"98109-5210","CountryCode":"US"} }
        """;

    private static string Items(string sku) => $$"""
        {"payload":{"AmazonOrderId":"x","OrderItems":[{"ASIN":"B00TEST123","OrderItemId":"68828574383266","SellerSKU":"{{sku}}","Title":"Winter Boot 42",
          "QuantityOrdered":2,"QuantityShipped":0,"ItemPrice":{"CurrencyCode":"USD","Amount":"89.98"} }]} }
        """;

    [Fact]
    public async Task AmazonGetOrders_TwoPagesWithNextToken_NormalizesEveryOrderPreservingAfnAndStoresTheCheckpoint()
    {
        var mfn = $"114-{Random.Shared.Next(1_000_000, 9_999_999)}-0000001";
        var afn = $"114-{Random.Shared.Next(1_000_000, 9_999_999)}-0000002";
        _api.Given(Request.Create().WithPath("/orders/v0/orders").WithParam("LastUpdatedAfter").UsingGet()).RespondWith(Response.Create().WithStatusCode(200)
            .WithBody($$"""{"payload":{"Orders":[{{AmazonOrder(mfn, "MFN", "2025-11-20T17:10:00Z")}}],"NextToken":"2YgYW55IGNhcm5hbCBwbGVhc3VyZS4","LastUpdatedBefore":"2025-11-20T18:00:00Z"} }"""));
        _api.Given(Request.Create().WithPath("/orders/v0/orders").WithParam("NextToken", "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4").UsingGet()).RespondWith(Response.Create().WithStatusCode(200)
            .WithBody($$"""{"payload":{"Orders":[{{AmazonOrder(afn, "AFN", "2025-11-20T17:20:00Z")}}]} }"""));
        _api.Given(Request.Create().WithPath($"/orders/v0/orders/{mfn}/orderItems").UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithBody(Items("BOOT-W-42")));
        _api.Given(Request.Create().WithPath($"/orders/v0/orders/{afn}/orderItems").UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithBody(Items("BOOT-W-42")));
        var poller = ActivatorUtilities.CreateInstance<AmazonOrdersPoller>(stack.Services, _http);
        var shop = ApiShop(Channel.Amazon, ConnectorStack.AmazonSellerId);

        var fetched = await poller.PollAsync(shop, CancellationToken.None);

        fetched.ShouldBe(2);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id.EndsWith(afn, StringComparison.Ordinal)));
        var afnOrder = events.Single(e => e.Value.metadata.correlation_id.EndsWith(afn, StringComparison.Ordinal)).Value.body.ShouldBeOfType<OrderUpdated>().order;
        afnOrder.fulfillment_channel.ShouldBe(FulfillmentChannel.AFN);
        afnOrder.shipping_address.city.ShouldBe("Seattle");
        afnOrder.lines.Single().quantity.ShouldBe(2);
        Money.FromAvro(afnOrder.lines.Single().unit_price).ShouldBe(44.99m);
        events.Single(e => e.Value.metadata.correlation_id.EndsWith(mfn, StringComparison.Ordinal)).Value.body.ShouldBeOfType<OrderUpdated>()
            .order.fulfillment_channel.ShouldBe(FulfillmentChannel.MFN);
        (await stack.Services.GetRequiredService<PollCheckpoints>().GetAsync("amazon", ConnectorStack.AmazonSellerId, CancellationToken.None)).ShouldBe("2025-11-20T18:00:00Z");

        // The next poll resumes from the checkpoint; the same states again are duplicates, not new events.
        await poller.PollAsync(shop, CancellationToken.None);
        _api.LogEntries.Last(e => e.RequestMessage.Path == "/orders/v0/orders" && e.RequestMessage.Query!.ContainsKey("LastUpdatedAfter"))
            .RequestMessage.Query!["LastUpdatedAfter"].Single().ShouldBe("2025-11-20T18:00:00Z");
        (await stack.StoredAsync("amazon", $"order:{afn}:2025-11-20T17:20:00Z")).Count.ShouldBe(1);
    }

    [Fact]
    public async Task WooCommerceReconciliation_StateTheWebhookDelivered_IsADuplicateAndTheMissedOrderIsNormalized()
    {
        var delivered = Payloads.NewId();
        var missed = Payloads.NewId();
        var deliveredBody = Payloads.WooOrder(delivered, "2025-11-20T12:15:04");
        (await stack.Http.PostAsync("/webhooks/woocommerce/" + ConnectorStack.WooShop, deliveredBody, Send.WooHeaders(deliveredBody))).Field("status").ShouldBe("accepted");
        _api.Given(Request.Create().WithPath("/wp-json/wc/v3/orders").UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
            .WithBody($"[{Encoding.UTF8.GetString(deliveredBody)},{Encoding.UTF8.GetString(Payloads.WooOrder(missed, "2025-11-20T12:30:00"))}]"));
        // The shop's first poll looks back a day from "now", which is just before these orders were modified.
        var now = new FakeTimeProvider(new DateTimeOffset(2025, 11, 21, 12, 0, 0, TimeSpan.Zero));
        var poller = ActivatorUtilities.CreateInstance<WooCommerceReconciliationPoller>(stack.Services, _http, (TimeProvider)now);

        (await poller.PollAsync(ApiShop(Channel.WooCommerce, ConnectorStack.WooShop), CancellationToken.None)).ShouldBe(2);

        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == $"woocommerce:{ConnectorStack.WooShop}:{missed}"));
        events.Count(e => e.Value.metadata.correlation_id == $"woocommerce:{ConnectorStack.WooShop}:{delivered}").ShouldBe(1);
        (await stack.StoredAsync("woocommerce", $"order:{delivered}:2025-11-20T12:15:04")).Count.ShouldBe(1);
        (await stack.Services.GetRequiredService<PollCheckpoints>().GetAsync("woocommerce", ConnectorStack.WooShop, CancellationToken.None)).ShouldBe("2025-11-20T12:30:00");
        _api.LogEntries.Single().RequestMessage.Query!["modified_after"].Single().ShouldBe("2025-11-20T12:00:00");
    }

    [Fact]
    public void TokenBucket_GetOrdersLimits_AllowsBurstOf20ThenOneAboutEvery60Seconds()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(0.0167, 20, time);

        for (var i = 0; i < 20; i++)
        {
            bucket.TryTake(out _).ShouldBeTrue();
        }

        bucket.TryTake(out var wait).ShouldBeFalse();
        wait.TotalSeconds.ShouldBe(1 / 0.0167, tolerance: 0.01);
        time.Advance(TimeSpan.FromSeconds(59));
        bucket.TryTake(out _).ShouldBeFalse();
        time.Advance(TimeSpan.FromSeconds(1));
        bucket.TryTake(out _).ShouldBeTrue();
        bucket.TryTake(out _).ShouldBeFalse();
    }

    public void Dispose()
    {
        _api.Stop();
        _api.Dispose();
        _http.Dispose();
    }
}
