using System.Net;
using System.Text;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Tests;

[Collection(ConnectorStackCollection.Name)]
public class TikTokShopWebhookTests(ConnectorStack stack)
{
    private const string Path = "/webhooks/tiktok-shop";

    private static string OrderIdOf(string id) => $"tiktok-shop:{ConnectorStack.TikTokShopId}:{id}";

    private static (string, string)[] Signed(byte[] body) => [("Authorization", ConnectorStack.TikTokSignature(body))];

    [Fact]
    public async Task OrderCancelled_SignedNotification_ProducesOrderCancelled()
    {
        var orderId = "5776" + Payloads.NewId();
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), orderId, "CANCELLED");

        var reply = await stack.Http.PostAsync(Path, body, Signed(body));

        reply.Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)));
        var (key, evt) = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(orderId));
        key.ShouldBe(ConnectorStack.PoolId);
        var cancelled = evt.body.ShouldBeOfType<OrderCancelled>();
        cancelled.channel.ShouldBe(Channel.TikTokShop);
        cancelled.channel_order_id.ShouldBe(orderId);
        evt.metadata.occurred_at.ShouldBe(DateTime.UnixEpoch.AddSeconds(1732111990));
    }

    [Fact]
    public async Task Notification_SignedWithWrongAppSecret_Returns401AndNormalizesNothing()
    {
        var orderId = "5776" + Payloads.NewId();
        var notificationId = Guid.NewGuid().ToString("N");
        var body = Payloads.TikTokStatus(notificationId, orderId, "CANCELLED");

        var reply = await stack.Http.PostAsync(Path, body, [("Authorization", ConnectorStack.TikTokSignature(body, secret: "wrong"))]);

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
        (await stack.StoredAsync("tiktok-shop", notificationId)).ShouldHaveSingleItem().SignatureVerified.ShouldBeFalse();
        await AssertNoEventAsync(orderId);
    }

    [Fact]
    public async Task Notification_UnknownShop_Returns404()
    {
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), "1", "CANCELLED", shopId: "999");

        var reply = await stack.Http.PostAsync(Path, body, Signed(body));

        reply.Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Notification_SignedButNotJson_Returns400AndUnsignedGarbageReturns401()
    {
        var body = Encoding.UTF8.GetBytes("{\"type\":1,");

        var signed = await stack.Http.PostAsync(Path, body, Signed(body));
        var unsigned = await stack.Http.PostAsync(Path, body, []);

        signed.Status.ShouldBe(HttpStatusCode.BadRequest);
        signed.Field("error").ShouldNotBeNull().ShouldStartWith("body is not valid JSON");
        unsigned.Status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task SameNotification_DeliveredTwice_YieldsExactlyOneEvent()
    {
        var orderId = "5776" + Payloads.NewId();
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), orderId, "CANCELLED");

        var first = await stack.Http.PostAsync(Path, body, Signed(body));
        var second = await stack.Http.PostAsync(Path, body, Signed(body));
        var sentinel = "5776" + Payloads.NewId();
        var sentinelBody = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), sentinel, "CANCELLED");
        await stack.Http.PostAsync(Path, sentinelBody, Signed(sentinelBody));

        first.Field("status").ShouldBe("accepted");
        second.Field("status").ShouldBe("duplicate");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.Count(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)).ShouldBe(1);
    }

    [Fact]
    public async Task AwaitingShipment_FetchesTheSignedOrderDetailAndProducesOrderPlacedWithItsLines()
    {
        var orderId = "5776" + Payloads.NewId();
        stack.TikTokApi.Given(WireMock.RequestBuilders.Request.Create().WithPath("/order/202309/orders").WithParam("ids", orderId).UsingGet())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody($$"""
                {"code":0,"message":"Success","request_id":"2023082","data":{"orders":[{"id":"{{orderId}}","status":"AWAITING_SHIPMENT","create_time":1732111900,
                  "delivery_option_name":"Standard shipping","payment":{"currency":"USD","total_amount":"59.98"},
                  "recipient_address":{"name":"Sam Lee","address_line1":"1 Main St","postal_code":"10001","region_code":"US","phone_number":"(+1)212***","district_info":[
                    {"address_level_name":"Country","address_name":"United States"},{"address_level_name":"State","address_name":"New York"},{"address_level_name":"City","address_name":"New York"}]},
                  "line_items":[{"id":"577086512123755123","sku_id":"1729592969712207000","seller_sku":"MUG-TI-450","sale_price":"29.99","display_status":"AWAITING_SHIPMENT"},
                                {"id":"577086512123755124","sku_id":"1729592969712207000","seller_sku":"MUG-TI-450","sale_price":"29.99","display_status":"AWAITING_SHIPMENT"}]}]} }
                """));
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), orderId, "AWAITING_SHIPMENT");

        (await stack.Http.PostAsync(Path, body, Signed(body))).Status.ShouldBe(HttpStatusCode.OK);

        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)));
        var order = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)).Value.body.ShouldBeOfType<OrderPlaced>().order;
        order.lines.Select(l => (l.sku, l.quantity)).ShouldBe([("MUG-TI-450", 1), ("MUG-TI-450", 1)]);
        order.shipping_address.city.ShouldBe("New York");
        order.shipping_address.country_code.ShouldBe("US");
        order.requested_service_level.ShouldBe(ServiceLevel.Standard);
        var call = stack.TikTokApi.LogEntries.Last(e => e.RequestMessage.Path == "/order/202309/orders").RequestMessage;
        call.Headers!["x-tts-access-token"].ShouldBe(["tts-access-token"]);
        var query = call.Query!.ToDictionary(q => q.Key, q => q.Value.Single());
        query["sign"].ShouldBe(Fulfillment.Connectors.Channels.TikTokShopOrderFetcher.Sign(ConnectorStack.TikTokAppSecret, "/order/202309/orders",
            query.Where(q => q.Key != "sign"), ""));
        query["shop_cipher"].ShouldBe("ROW_abc123");
    }

    [Fact]
    public async Task AwaitingShipment_SlowOrderDetails_QueuedDeliveriesAreFetchedAtOnceAndAllPublished()
    {
        // Each order detail answers only after `delay`: fetched one after another, the four calls would span at least three
        // delays; fetched concurrently, every call is made before the first answer.
        var delay = TimeSpan.FromSeconds(5);
        var orderIds = Enumerable.Range(0, 4).Select(_ => "5777" + Payloads.NewId()).ToArray();
        foreach (var orderId in orderIds)
        {
            stack.TikTokApi.Given(WireMock.RequestBuilders.Request.Create().WithPath("/order/202309/orders").WithParam("ids", orderId).UsingGet())
                .RespondWith(WireMock.ResponseBuilders.Response.Create().WithDelay(delay).WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody($$"""
                    {"code":0,"message":"Success","request_id":"2023083","data":{"orders":[{"id":"{{orderId}}","status":"AWAITING_SHIPMENT","create_time":1732111900,
                      "payment":{"currency":"USD","total_amount":"29.99"},
                      "line_items":[{"id":"577086512123755125","sku_id":"1729592969712207000","seller_sku":"MUG-TI-450","sale_price":"29.99","display_status":"AWAITING_SHIPMENT"}]}]} }
                    """));
        }

        var answers = await Task.WhenAll(orderIds.Select(async orderId =>
        {
            var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), orderId, "AWAITING_SHIPMENT");
            return (await stack.Http.PostAsync(Path, body, Signed(body))).Status;
        }));

        answers.ShouldAllBe(s => s == HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => orderIds.All(id => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id))));
        foreach (var orderId in orderIds)
        {
            events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)).Value.body.ShouldBeOfType<OrderPlaced>();
        }

        var calls = stack.TikTokApi.LogEntries
            .Where(e => e.RequestMessage.Path == "/order/202309/orders" && e.RequestMessage.Query!.TryGetValue("ids", out var ids) && orderIds.Contains(ids.Single()))
            .Select(e => e.RequestMessage.DateTime).ToList();
        calls.Count.ShouldBe(orderIds.Length);
        (calls.Max() - calls.Min()).ShouldBeLessThan(delay);
    }

    [Fact]
    public async Task Notification_MissingSignature_Returns401AndNormalizesNothing()
    {
        var orderId = "5776" + Payloads.NewId();
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), orderId, "CANCELLED");

        var reply = await stack.Http.PostAsync(Path, body, []);

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
        await AssertNoEventAsync(orderId);
    }

    [Fact]
    public async Task Notification_SignedWithoutOrderId_Returns400WithReasonAndKeepsRaw()
    {
        var notificationId = Guid.NewGuid().ToString("N");
        var body = Encoding.UTF8.GetBytes($$"""
            {"type":1,"tts_notification_id":"{{notificationId}}","shop_id":"{{ConnectorStack.TikTokShopId}}","timestamp":1732112000,"data":{"order_status":"CANCELLED"} }
            """);

        var reply = await stack.Http.PostAsync(Path, body, Signed(body));

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
        reply.Field("error").ShouldBe("$.data.order_id is missing");
        var stored = (await stack.StoredAsync("tiktok-shop", notificationId)).ShouldHaveSingleItem();
        stored.Status.ShouldBe("Malformed");
        stored.SignatureVerified.ShouldBeTrue();
        stored.Body.ShouldBe(body);
    }

    [Fact]
    public async Task AwaitingShipment_OrderDetailWithUnknownSku_IsKeptWithThatLineFlagged()
    {
        var orderId = "5776" + Payloads.NewId();
        stack.TikTokApi.Given(WireMock.RequestBuilders.Request.Create().WithPath("/order/202309/orders").WithParam("ids", orderId).UsingGet())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody($$"""
                {"code":0,"message":"Success","request_id":"2023083","data":{"orders":[{"id":"{{orderId}}","status":"AWAITING_SHIPMENT","create_time":1732111900,
                  "delivery_option_name":"Standard shipping","payment":{"currency":"USD","total_amount":"41.98"},
                  "recipient_address":{"name":"Sam Lee","address_line1":"1 Main St","postal_code":"10001","region_code":"US","district_info":[]},
                  "line_items":[{"id":"577086512123755125","sku_id":"1729592969712207000","seller_sku":"MUG-TI-450","sale_price":"29.99","display_status":"AWAITING_SHIPMENT"},
                                {"id":"577086512123755126","sku_id":"1729592969712207999","seller_sku":"TTS-UNLISTED-1","sale_price":"11.99","display_status":"AWAITING_SHIPMENT"}]}]} }
                """));
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), orderId, "AWAITING_SHIPMENT");

        (await stack.Http.PostAsync(Path, body, Signed(body))).Status.ShouldBe(HttpStatusCode.OK);

        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)));
        var lines = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(orderId)).Value.body.ShouldBeOfType<OrderPlaced>().order.lines;
        lines.Select(l => (l.sku, l.flags.Contains(OrderLineFlag.UnknownSku))).ShouldBe([("MUG-TI-450", false), ("TTS-UNLISTED-1", true)]);
    }

    private async Task AssertNoEventAsync(string orderId)
    {
        var sentinel = "5776" + Payloads.NewId();
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), sentinel, "CANCELLED");
        await stack.Http.PostAsync(Path, body, Signed(body));
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(orderId));
    }
}
