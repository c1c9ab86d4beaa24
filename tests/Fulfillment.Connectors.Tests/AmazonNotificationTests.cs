using System.Net;
using System.Text;
using System.Text.Json;
using Fulfillment.Connectors.Channels;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Tests;

[Collection(ConnectorStackCollection.Name)]
public class AmazonNotificationTests(ConnectorStack stack)
{
    private const string Path = "/webhooks/amazon";

    private static string OrderIdOf(string id) => $"amazon:{ConnectorStack.AmazonSellerId}:{id}";

    private static string NewAmazonOrderId() => $"113-{Random.Shared.Next(1_000_000, 9_999_999)}-{Random.Shared.Next(1_000_000, 9_999_999)}";

    private static (string, string)[] Keyed(string key = ConnectorStack.AmazonApiKey) => [(AmazonReceiver.ApiKeyHeader, key)];

    [Theory]
    [InlineData("MFN", FulfillmentChannel.MFN)]
    [InlineData("AFN", FulfillmentChannel.AFN)]
    public async Task OrderChange_OverHttpWithRelayKey_ProducesOrderPlacedPreservingFulfillmentType(string type, FulfillmentChannel expected)
    {
        var amazonOrderId = NewAmazonOrderId();
        var body = Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), amazonOrderId, fulfillmentType: type);

        var reply = await stack.Http.PostAsync(Path, body, Keyed());

        reply.Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId)));
        var (key, evt) = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId));
        key.ShouldBe(ConnectorStack.AmazonPoolId);
        var order = evt.body.ShouldBeOfType<OrderPlaced>().order;
        order.channel.ShouldBe(Channel.Amazon);
        order.fulfillment_channel.ShouldBe(expected);
        order.marketplace_id.ShouldBe("ATVPDKIKX0DER");
        order.channel_status.ShouldBe("Unshipped");
        order.requested_service_level.ShouldBe(ServiceLevel.Expedited);
        order.latest_ship_at.ShouldBe(new DateTime(2025, 11, 22, 7, 59, 59, DateTimeKind.Utc));
        order.shipping_address.postal_code.ShouldBe("98109-5210");
        var line = order.lines.ShouldHaveSingleItem();
        (line.line_id, line.sku, line.quantity).ShouldBe(("68828574383266", "BOOT-W-42", 2));
    }

    [Fact]
    public async Task OrderChange_WrappedInSqsMessage_IsUnwrapped()
    {
        var amazonOrderId = NewAmazonOrderId();
        var notification = Encoding.UTF8.GetString(Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), amazonOrderId));
        var sqs = JsonSerializer.SerializeToUtf8Bytes(new { MessageId = Guid.NewGuid().ToString(), ReceiptHandle = "AQEB...", MD5OfBody = "x", Body = notification });

        var reply = await stack.Http.PostAsync(Path, sqs, Keyed());

        reply.Status.ShouldBe(HttpStatusCode.OK);
        await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId)));
    }

    [Fact]
    public async Task OrderChange_WrongOrMissingRelayKey_Returns401()
    {
        var body = Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), NewAmazonOrderId());

        (await stack.Http.PostAsync(Path, body, Keyed("guess"))).Status.ShouldBe(HttpStatusCode.Unauthorized);
        (await stack.Http.PostAsync(Path, body, [])).Status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task OrderChange_UnknownSeller_Returns404()
    {
        var body = Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), NewAmazonOrderId(), sellerId: "A1OTHERSELLER");

        (await stack.Http.PostAsync(Path, body, Keyed())).Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task OrderChange_CanceledStatus_ProducesOrderCancelled()
    {
        var amazonOrderId = NewAmazonOrderId();
        var body = Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), amazonOrderId, status: "Canceled", changeReason: "BuyerRequestedCancel");

        (await stack.Http.PostAsync(Path, body, Keyed())).Status.ShouldBe(HttpStatusCode.OK);

        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId)));
        events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId)).Value.body.ShouldBeOfType<OrderCancelled>()
            .reason.ShouldBe("BuyerRequestedCancel");
    }

    [Fact]
    public async Task QueueMessage_SameNotificationTwice_StoredWithQueueTransportAndNormalizedOnce()
    {
        var amazonOrderId = NewAmazonOrderId();
        var notificationId = Guid.NewGuid().ToString();
        var body = Payloads.AmazonOrderChange(notificationId, amazonOrderId, sku: "UNLISTED-SKU");

        ConnectorStack.AmazonQueue.Send(body);
        ConnectorStack.AmazonQueue.Send(body);
        var sentinel = NewAmazonOrderId();
        await Task.Delay(300);
        ConnectorStack.AmazonQueue.Send(Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), sentinel));

        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        var mine = events.Where(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId)).ToList();
        mine.Count.ShouldBe(1);
        mine[0].Value.body.ShouldBeOfType<OrderPlaced>().order.lines.Single().flags.ShouldBe([OrderLineFlag.UnknownSku]);
        var raw = (await stack.WaitForRawAsync(r => r.delivery_id == notificationId)).Single().Value;
        raw.transport.ShouldBe(IngestTransport.Queue);
        raw.signature_verified.ShouldBeTrue();
        ConnectorStack.AmazonQueue.Undeleted.ShouldBeEmpty();
    }

    [Fact]
    public async Task OrderChange_SignedGarbage_Returns400AndKeepsRaw()
    {
        var body = Encoding.UTF8.GetBytes("""{"NotificationType":"ORDER_CHANGE","Payload":{}}""");

        var reply = await stack.Http.PostAsync(Path, body, Keyed());

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
        reply.Field("error").ShouldBe("$.Payload.OrderChangeNotification.SellerId is missing");
        (await stack.WaitForRawAsync(r => r.source == "amazon" && r.body.SequenceEqual(body))).ShouldNotBeEmpty();
    }

    [Fact]
    public async Task OrderChange_MissingRelayKey_Returns401KeepsRawAndNormalizesNothing()
    {
        var amazonOrderId = NewAmazonOrderId();
        var notificationId = Guid.NewGuid().ToString();
        var body = Payloads.AmazonOrderChange(notificationId, amazonOrderId);

        (await stack.Http.PostAsync(Path, body, [])).Status.ShouldBe(HttpStatusCode.Unauthorized);

        var stored = (await stack.StoredAsync("amazon", notificationId)).ShouldHaveSingleItem();
        stored.SignatureVerified.ShouldBeFalse();
        stored.Accepted.ShouldBeFalse();
        var sentinel = NewAmazonOrderId();
        (await stack.Http.PostAsync(Path, Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), sentinel), Keyed())).Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId));
    }

    [Fact]
    public async Task OrderChange_WrongRelayKey_NormalizesNothing()
    {
        var amazonOrderId = NewAmazonOrderId();
        var notificationId = Guid.NewGuid().ToString();
        var body = Payloads.AmazonOrderChange(notificationId, amazonOrderId);

        (await stack.Http.PostAsync(Path, body, Keyed("guess"))).Status.ShouldBe(HttpStatusCode.Unauthorized);

        (await stack.StoredAsync("amazon", notificationId)).ShouldHaveSingleItem().SignatureVerified.ShouldBeFalse();
        var sentinel = NewAmazonOrderId();
        (await stack.Http.PostAsync(Path, Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), sentinel), Keyed())).Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId));
    }

    [Fact]
    public async Task OrderChange_SameNotificationTwiceOverHttp_YieldsExactlyOneEventWithUnknownSkuFlagged()
    {
        var amazonOrderId = NewAmazonOrderId();
        var body = Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), amazonOrderId, sku: "AMZ-UNLISTED-3");

        var first = await stack.Http.PostAsync(Path, body, Keyed());
        var second = await stack.Http.PostAsync(Path, body, Keyed());
        var sentinel = NewAmazonOrderId();
        await stack.Http.PostAsync(Path, Payloads.AmazonOrderChange(Guid.NewGuid().ToString(), sentinel), Keyed());

        first.Field("status").ShouldBe("accepted");
        second.Status.ShouldBe(HttpStatusCode.OK);
        second.Field("status").ShouldBe("duplicate");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        var mine = events.Where(e => e.Value.metadata.correlation_id == OrderIdOf(amazonOrderId)).ToList();
        mine.Count.ShouldBe(1);
        var line = mine[0].Value.body.ShouldBeOfType<OrderPlaced>().order.lines.ShouldHaveSingleItem();
        line.sku.ShouldBe("AMZ-UNLISTED-3");
        line.flags.ShouldBe([OrderLineFlag.UnknownSku]);
    }
}
