using System.Net;
using System.Text;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;
using static Fulfillment.Connectors.Tests.Infrastructure.Send;

namespace Fulfillment.Connectors.Tests;

[Collection(ConnectorStackCollection.Name)]
public class WooCommerceWebhookTests(ConnectorStack stack)
{
    private const string Path = "/webhooks/woocommerce/" + ConnectorStack.WooShop;

    private static string OrderIdOf(long id) => $"woocommerce:{ConnectorStack.WooShop}:{id}";

    [Fact]
    public async Task OrderCreated_SignedDelivery_ProducesOrderPlaced()
    {
        var id = Payloads.NewId();
        var body = Payloads.WooOrder(id, "2025-11-20T12:15:04");

        var reply = await stack.Http.PostAsync(Path, body, WooHeaders(body));

        reply.Status.ShouldBe(HttpStatusCode.OK);
        reply.Field("delivery_id").ShouldBe($"order:{id}:2025-11-20T12:15:04");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id)));
        var (key, evt) = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(id));
        key.ShouldBe(ConnectorStack.PoolId);
        var order = evt.body.ShouldBeOfType<OrderPlaced>().order;
        order.channel.ShouldBe(Channel.WooCommerce);
        order.placed_at.ShouldBe(new DateTime(2025, 11, 20, 12, 15, 2, DateTimeKind.Utc));
        order.channel_status.ShouldBe("processing");
        order.requested_service_level.ShouldBe(ServiceLevel.Standard);
        order.shipping_address.postal_code.ShouldBe("94103");
        order.shipping_address.country_code.ShouldBe("US");
        var line = order.lines.ShouldHaveSingleItem();
        (line.line_id, line.sku, line.quantity, line.channel_product_id).ShouldBe(("315", "STOVE-MINI", 2, "93"));
        Money.FromAvro(line.unit_price).ShouldBe(14.5m);
    }

    [Fact]
    public async Task CreationPing_FormEncodedWebhookId_Returns200AndNormalizesNothing()
    {
        var body = Encoding.UTF8.GetBytes("webhook_id=12");

        var reply = await stack.Http.PostAsync(Path, body, [("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)")], "application/x-www-form-urlencoded");

        reply.Status.ShouldBe(HttpStatusCode.OK);
        reply.Field("status").ShouldBe("ping");
        (await stack.WaitForRawAsync(r => r.source == "woocommerce" && r.event_type == "webhook.ping")).ShouldNotBeEmpty();
    }

    [Fact]
    public async Task Delivery_WrongSignature_Returns401()
    {
        var id = Payloads.NewId();
        var body = Payloads.WooOrder(id, "2025-11-20T12:15:04");

        var headers = WooHeaders(body, signature: ConnectorStack.ShopifyHmac(body, "wrong"));
        var deliveryHeader = headers.Single(h => h.Item1 == "X-WC-Webhook-Delivery-ID").Item2;

        var reply = await stack.Http.PostAsync(Path, body, headers);

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
        var stored = (await stack.StoredAsync("woocommerce", "delivery:" + deliveryHeader)).ShouldHaveSingleItem();
        stored.SignatureVerified.ShouldBeFalse();
        stored.Accepted.ShouldBeFalse();
        var sentinel = Payloads.NewId();
        var sentinelBody = Payloads.WooOrder(sentinel, "2025-11-20T12:15:04");
        await stack.Http.PostAsync(Path, sentinelBody, WooHeaders(sentinelBody));
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(id));
    }

    [Fact]
    public async Task Delivery_UnknownShopRoute_Returns404()
    {
        var body = Payloads.WooOrder(Payloads.NewId(), "2025-11-20T12:15:04");

        var reply = await stack.Http.PostAsync("/webhooks/woocommerce/someone-else", body, WooHeaders(body));

        reply.Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task SameOrderState_SentTwiceWithNewDeliveryIds_YieldsExactlyOneEvent()
    {
        var id = Payloads.NewId();
        var body = Payloads.WooOrder(id, "2025-11-20T12:15:04");
        var later = Payloads.WooOrder(id, "2025-11-20T12:20:00", status: "completed");

        var first = await stack.Http.PostAsync(Path, body, WooHeaders(body));
        var second = await stack.Http.PostAsync(Path, body, WooHeaders(body));
        var update = await stack.Http.PostAsync(Path, later, WooHeaders(later, topic: "order.updated"));

        first.Field("status").ShouldBe("accepted");
        second.Field("status").ShouldBe("duplicate");
        update.Field("status").ShouldBe("accepted");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id) && e.Value.body is OrderUpdated));
        events.Where(e => e.Value.metadata.correlation_id == OrderIdOf(id)).Select(e => e.Value.body.GetType().Name)
            .ShouldBe(["OrderPlaced", "OrderUpdated"]);
    }

    [Fact]
    public async Task Delivery_MissingSignature_Returns401AndNormalizesNothing()
    {
        var id = Payloads.NewId();
        var body = Payloads.WooOrder(id, "2025-11-20T12:15:04");

        var reply = await stack.Http.PostAsync(Path, body, WooHeaders(body, sign: false));

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
        var sentinel = Payloads.NewId();
        var sentinelBody = Payloads.WooOrder(sentinel, "2025-11-20T12:15:04");
        await stack.Http.PostAsync(Path, sentinelBody, WooHeaders(sentinelBody));
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(id));
    }

    [Fact]
    public async Task Order_WithUnknownSku_IsKeptWithThatLineFlagged()
    {
        var id = Payloads.NewId();
        var body = Payloads.WooOrder(id, "2025-11-20T12:15:04", sku: "WOO-UNLISTED-9");

        (await stack.Http.PostAsync(Path, body, WooHeaders(body))).Status.ShouldBe(HttpStatusCode.OK);

        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id)));
        var line = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(id)).Value.body.ShouldBeOfType<OrderPlaced>().order.lines.ShouldHaveSingleItem();
        line.sku.ShouldBe("WOO-UNLISTED-9");
        line.flags.ShouldBe([OrderLineFlag.UnknownSku]);
    }

    [Fact]
    public async Task Delivery_SignedButMissingDedupeField_Returns400AndKeepsRaw()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":77,"status":"processing","line_items":[]}""");

        var reply = await stack.Http.PostAsync(Path, body, WooHeaders(body));

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
        reply.Field("error").ShouldNotBeNull().ShouldContain("date_modified_gmt");
        (await stack.WaitForRawAsync(r => r.source == "woocommerce" && r.body.SequenceEqual(body))).Single().Value.signature_verified.ShouldBeTrue();
    }

    [Fact]
    public async Task OrderUpdated_StatusCancelled_ProducesOrderCancelled()
    {
        var id = Payloads.NewId();
        var body = Payloads.WooOrder(id, "2025-11-20T13:00:00", status: "cancelled");

        var reply = await stack.Http.PostAsync(Path, body, WooHeaders(body, topic: "order.updated"));

        reply.Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id)));
        events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(id)).Value.body.ShouldBeOfType<OrderCancelled>().reason.ShouldBe("cancelled");
    }
}
