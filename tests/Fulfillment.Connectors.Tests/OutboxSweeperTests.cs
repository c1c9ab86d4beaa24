using Fulfillment.Connectors.Channels;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Connectors.Webhooks;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;
using Microsoft.Extensions.DependencyInjection;

namespace Fulfillment.Connectors.Tests;

[Collection(ConnectorStackCollection.Name)]
public class OutboxSweeperTests(ConnectorStack stack)
{
    [Fact]
    public async Task StoredDeliveryNeverPublished_Sweep_PublishesItsEventsAndMarksIt()
    {
        // As after a crash between the Postgres commit and Kafka: the row is stored, nothing was produced.
        var id = Payloads.NewId();
        var eventId = Guid.NewGuid().ToString();
        var body = Payloads.ShopifyOrder(id);
        var delivery = new InboundDelivery(IngestTransport.Webhook, "POST", "/webhooks/shopify", null,
            [.. Send.ShopifyHeaders(body, eventId).Select(h => new KeyValuePair<string, string>(h.Item1, h.Item2))],
            "application/json", body, DateTime.UnixEpoch.AddMilliseconds(1_763_000_000_000));
        var result = stack.Services.GetRequiredService<ShopifyReceiver>().Receive(delivery);
        (await stack.Services.GetRequiredService<RawDeliveryStore>().InsertAsync(RawDeliveryRow.From(delivery, result), CancellationToken.None)).ShouldBeTrue();

        var queued = await stack.Services.GetRequiredService<OutboxSweeper>().SweepOnceAsync(CancellationToken.None);

        queued.ShouldBeGreaterThanOrEqualTo(1);
        var orderId = $"shopify:{ConnectorStack.ShopifyDomain}:{id}";
        var events = await stack.WaitForOrdersAsync(all => all.Any(e => e.Value.metadata.correlation_id == orderId));
        var evt = events.Single(e => e.Value.metadata.correlation_id == orderId).Value;
        evt.body.ShouldBeOfType<OrderPlaced>();
        // Re-normalized from the stored bytes: the same id the live path would have given it.
        evt.metadata.event_id.ShouldBe(result.Events.Single().metadata.event_id);
        evt.metadata.recorded_at.ShouldBe(delivery.ReceivedAt);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await stack.StoredAsync("shopify", eventId)).Single().Published && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        (await stack.StoredAsync("shopify", eventId)).Single().Published.ShouldBeTrue();
    }
}
