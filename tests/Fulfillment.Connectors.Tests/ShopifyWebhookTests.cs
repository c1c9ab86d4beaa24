using System.Net;
using System.Text;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;
using static Fulfillment.Connectors.Tests.Infrastructure.Send;

namespace Fulfillment.Connectors.Tests;

[Collection(ConnectorStackCollection.Name)]
public class ShopifyWebhookTests(ConnectorStack stack)
{
    private const string Path = "/webhooks/shopify";

    private static string OrderIdOf(long id) => $"shopify:{ConnectorStack.ShopifyDomain}:{id}";

    [Fact]
    public async Task OrdersCreate_SignedDelivery_ProducesOrderPlacedKeyedByPoolWithTraceability()
    {
        var id = Payloads.NewId();
        var eventId = Guid.NewGuid().ToString();
        var body = Payloads.ShopifyOrder(id);

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, eventId));

        reply.Status.ShouldBe(HttpStatusCode.OK);
        reply.Field("status").ShouldBe("accepted");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id)));
        var (key, evt) = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(id));
        key.ShouldBe(ConnectorStack.PoolId);
        evt.metadata.pool_id.ShouldBe(ConnectorStack.PoolId);
        evt.metadata.source_system.ShouldBe("shopify");
        evt.metadata.source_id.ShouldBe(eventId);
        evt.metadata.causation_id.ShouldBe($"raw:shopify:{eventId}");
        evt.metadata.occurred_at.ShouldBe(new DateTime(2025, 11, 20, 19, 32, 6, DateTimeKind.Utc));
        var order = evt.body.ShouldBeOfType<OrderPlaced>().order;
        order.channel.ShouldBe(Channel.Shopify);
        order.shop_id.ShouldBe(ConnectorStack.ShopifyDomain);
        order.channel_order_id.ShouldBe(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        order.placed_at.ShouldBe(new DateTime(2025, 11, 20, 19, 32, 5, DateTimeKind.Utc));
        order.currency.ShouldBe("CAD");
        order.fulfillment_channel.ShouldBe(FulfillmentChannel.MFN);
        order.requested_service_level.ShouldBe(ServiceLevel.Expedited);
        order.requested_service_code.ShouldBe("Express");
        order.shipping_address.city.ShouldBe("Ottawa");
        order.shipping_address.region.ShouldBe("ON");
        order.shipping_address.country_code.ShouldBe("CA");
        order.shipping_address.latitude.ShouldBe(45.41634);
        order.lines.Select(l => (l.line_id, l.sku, l.quantity)).ShouldBe([("866550311766439020", "TENT-2P-GRN", 1), ("141249953214522974", "MUG-TI-450", 2)]);
        Money.FromAvro(order.lines[0].unit_price).ShouldBe(199.99m);
        order.lines.ShouldAllBe(l => l.flags.Count == 0);

        var raw = await stack.WaitForRawAsync(r => r.delivery_id == eventId);
        raw.Single().Value.signature_verified.ShouldBeTrue();
        raw.Single().Value.body.ShouldBe(body);
        raw.Single().Value.metadata.event_id.ShouldBe(evt.metadata.causation_id);
        raw.Single().Value.headers.ShouldContain(h => h.name == "X-Shopify-Topic" && Encoding.Latin1.GetString(h.value) == "orders/create");
    }

    [Fact]
    public async Task Delivery_WrongSignature_Returns401KeepsRawUnverifiedAndNormalizesNothing()
    {
        var id = Payloads.NewId();
        var eventId = Guid.NewGuid().ToString();
        var body = Payloads.ShopifyOrder(id);
        var forged = ConnectorStack.ShopifyHmac(body, "not-the-secret");

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, eventId, hmac: forged));

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
        var stored = (await stack.StoredAsync("shopify", eventId)).ShouldHaveSingleItem();
        stored.SignatureVerified.ShouldBeFalse();
        stored.Accepted.ShouldBeFalse();
        stored.RejectionReason.ShouldNotBeNull().ShouldContain("X-Shopify-Hmac-Sha256");
        stored.Body.ShouldBe(body);
        var raw = (await stack.WaitForRawAsync(r => r.delivery_id == eventId)).Single().Value;
        raw.signature_verified.ShouldBeFalse();
        raw.rejection_reason.ShouldNotBeNull();
        await AssertNoOrderEventAsync(id);
    }

    [Fact]
    public async Task Delivery_MissingSignature_Returns401AndNormalizesNothing()
    {
        var id = Payloads.NewId();
        var body = Payloads.ShopifyOrder(id);

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString(), sign: false));

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
        await AssertNoOrderEventAsync(id);
    }

    [Fact]
    public async Task Delivery_SignedWithOtherShopsSecretAfterBodyChange_Returns401()
    {
        // A proxy that re-serializes JSON breaks the signature (shopify-api-js#354): the check is over the exact bytes.
        var id = Payloads.NewId();
        var body = Payloads.ShopifyOrder(id);
        var reformatted = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("\n", "", StringComparison.Ordinal));

        var reply = await stack.Http.PostAsync(Path, reformatted, ShopifyHeaders(body, Guid.NewGuid().ToString()));

        reply.Status.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Delivery_UnknownShop_Returns404AndIsCounted()
    {
        var body = Payloads.ShopifyOrder(Payloads.NewId());
        var before = await MetricAsync("fulfillment_connector_deliveries_total{channel=\"shopify\",outcome=\"unknown_shop\"}");

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString(), shop: "stranger.myshopify.com"));

        reply.Status.ShouldBe(HttpStatusCode.NotFound);
        (await MetricAsync("fulfillment_connector_deliveries_total{channel=\"shopify\",outcome=\"unknown_shop\"}")).ShouldBe(before + 1);
    }

    [Fact]
    public async Task Delivery_SignedMalformedBody_Returns400WithReasonAndKeepsRaw()
    {
        var eventId = Guid.NewGuid().ToString();
        var body = Encoding.UTF8.GetBytes("""{"id":1234,"created_at":"2025-11-20T14:32:05-05:00","line_items":"not-a-list"}""");

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, eventId));

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
        reply.Field("error").ShouldBe("$.line_items must be an array");
        var stored = (await stack.StoredAsync("shopify", eventId)).ShouldHaveSingleItem();
        stored.Status.ShouldBe("Malformed");
        stored.SignatureVerified.ShouldBeTrue();
        stored.Body.ShouldBe(body);
        (await stack.WaitForRawAsync(r => r.delivery_id == eventId)).Single().Value.rejection_reason.ShouldBe("$.line_items must be an array");
    }

    [Fact]
    public async Task Delivery_NotJson_Returns400WithReason()
    {
        var body = Encoding.UTF8.GetBytes("<html>proxy error</html>");

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString()));

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
        reply.Field("error").ShouldNotBeNull().ShouldStartWith("body is not valid JSON");
    }

    [Fact]
    public async Task SameEvent_DeliveredTwice_YieldsExactlyOneNormalizedEvent()
    {
        var id = Payloads.NewId();
        var eventId = Guid.NewGuid().ToString();
        var body = Payloads.ShopifyOrder(id);

        var first = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, eventId));
        // Shopify's retry: same event id, new webhook id.
        var second = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, eventId));
        // Same pool → same partition, produced after the duplicate would have been: once it is there, a duplicate would be too.
        var sentinel = Payloads.NewId();
        var sentinelBody = Payloads.ShopifyOrder(sentinel);
        await stack.Http.PostAsync(Path, sentinelBody, ShopifyHeaders(sentinelBody, Guid.NewGuid().ToString()));

        first.Field("status").ShouldBe("accepted");
        second.Status.ShouldBe(HttpStatusCode.OK);
        second.Field("status").ShouldBe("duplicate");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.Count(e => e.Value.metadata.correlation_id == OrderIdOf(id)).ShouldBe(1);
        (await stack.StoredAsync("shopify", eventId)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task Order_WithUnknownSku_IsKeptWithThatLineFlagged()
    {
        var id = Payloads.NewId();
        var body = Payloads.ShopifyOrder(id, sku2: "NOT-IN-CATALOG-7");

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString()));

        reply.Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id)));
        var order = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(id)).Value.body.ShouldBeOfType<OrderPlaced>().order;
        order.lines.Count.ShouldBe(2);
        order.lines[0].flags.ShouldBeEmpty();
        order.lines[1].sku.ShouldBe("NOT-IN-CATALOG-7");
        order.lines[1].flags.ShouldBe([OrderLineFlag.UnknownSku]);
    }

    [Fact]
    public async Task OrdersCancelled_SignedDelivery_ProducesOrderCancelled()
    {
        var id = Payloads.NewId();
        var body = Payloads.ShopifyOrder(id, cancelledAt: "2025-11-20T15:00:00-05:00");

        var reply = await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString(), topic: "orders/cancelled"));

        reply.Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(id)));
        var cancelled = events.Single(e => e.Value.metadata.correlation_id == OrderIdOf(id)).Value.body.ShouldBeOfType<OrderCancelled>();
        cancelled.reason.ShouldBe("customer");
        cancelled.order_id.ShouldBe(OrderIdOf(id));
    }

    [Fact]
    public async Task Metrics_AfterRejectedDelivery_ExposeOutcomeCounterAndAckHistogram()
    {
        var body = Payloads.ShopifyOrder(Payloads.NewId());
        var before = await MetricAsync("fulfillment_connector_deliveries_total{channel=\"shopify\",outcome=\"unauthorized\"}");

        await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString(), sign: false));

        (await MetricAsync("fulfillment_connector_deliveries_total{channel=\"shopify\",outcome=\"unauthorized\"}")).ShouldBe(before + 1);
        var text = await stack.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        text.ShouldContain("fulfillment_connector_ack_duration_seconds_bucket{channel=\"shopify\"");
    }

    [Fact]
    public async Task Delivery_WithoutEventId_RetryWithNewWebhookIdIsADuplicateByOrderIdAndUpdatedAt()
    {
        var id = Payloads.NewId();
        var body = Payloads.ShopifyOrder(id);
        (string, string)[] WithoutEventId() => [.. ShopifyHeaders(body, "unused").Where(h => h.Item1 != "X-Shopify-Event-Id")];

        var first = await stack.Http.PostAsync(Path, body, WithoutEventId());
        // A retry carries a new X-Shopify-Webhook-Id, so that header cannot be the key.
        var second = await stack.Http.PostAsync(Path, body, WithoutEventId());
        var sentinel = Payloads.NewId();
        var sentinelBody = Payloads.ShopifyOrder(sentinel);
        await stack.Http.PostAsync(Path, sentinelBody, ShopifyHeaders(sentinelBody, Guid.NewGuid().ToString()));

        first.Field("status").ShouldBe("accepted");
        first.Field("delivery_id").ShouldBe($"orders:{id}:2025-11-20T14:32:06-05:00");
        second.Status.ShouldBe(HttpStatusCode.OK);
        second.Field("status").ShouldBe("duplicate");
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.Count(e => e.Value.metadata.correlation_id == OrderIdOf(id)).ShouldBe(1);
    }

    [Fact]
    public async Task UnknownShop_FloodOfDeliveries_PastItsBudgetAnswered429NotStoredAndCounted()
    {
        var stranger = $"flood-{Guid.NewGuid():N}.myshopify.com";
        var body = Payloads.ShopifyOrder(Payloads.NewId());
        var eventIds = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid().ToString()).ToList();
        var before = await MetricAsync("fulfillment_connector_deliveries_total{channel=\"shopify\",outcome=\"rate_limited\"}");

        var replies = new List<Reply>();
        foreach (var eventId in eventIds)
        {
            replies.Add(await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, eventId, shop: stranger)));
        }

        // The stack allows 3 deliveries per unknown shop key (Connectors:UnknownShopBurst).
        replies.Select(r => r.Status).ShouldBe([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound,
            HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
        for (var i = 0; i < eventIds.Count; i++)
        {
            (await stack.StoredAsync("shopify", eventIds[i])).Count.ShouldBe(i < 3 ? 1 : 0);
        }

        (await MetricAsync("fulfillment_connector_deliveries_total{channel=\"shopify\",outcome=\"rate_limited\"}")).ShouldBe(before + 2);
        // Another unknown key has its own budget.
        (await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString(), shop: $"other-{Guid.NewGuid():N}.myshopify.com")))
            .Status.ShouldBe(HttpStatusCode.NotFound);
    }

    private async Task<double> MetricAsync(string series)
    {
        var text = await stack.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task AssertNoOrderEventAsync(long id)
    {
        // A later accepted delivery for the same pool lands on the same partition after anything this one could have produced.
        var sentinel = Payloads.NewId();
        var body = Payloads.ShopifyOrder(sentinel);
        (await stack.Http.PostAsync(Path, body, ShopifyHeaders(body, Guid.NewGuid().ToString()))).Status.ShouldBe(HttpStatusCode.OK);
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == OrderIdOf(sentinel)));
        events.ShouldNotContain(e => e.Value.metadata.correlation_id == OrderIdOf(id));
    }
}
