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

    private async Task AssertNoEventAsync(string orderId)
    {
        var sentinel = "5776" + Payloads.NewId();
        var body = Payloads.TikTokStatus(Guid.NewGuid().ToString("N"), sentinel, "CANCELLED");
        await stack.Http.PostAsync(Path, body, Signed(body));
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(orderId));
    }
}
