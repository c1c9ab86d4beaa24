using CsCheck;
using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Demo.Tests;

/// <summary>The demo's payloads through the connector's real receivers (signature check and normalization), in process.</summary>
public class PayloadVerificationTests
{
    private static readonly ShopDirectory Directory = DemoTestShops.ConnectorDirectory();

    private static readonly Dictionary<ChannelKind, IChannelReceiver> Receivers = new()
    {
        [ChannelKind.Shopify] = new ShopifyReceiver(Directory),
        [ChannelKind.WooCommerce] = new WooCommerceReceiver(Directory),
        [ChannelKind.TikTokShop] = new TikTokShopReceiver(Directory),
        [ChannelKind.Amazon] = new AmazonReceiver(Directory),
    };

    internal static DeliveryResult Receive(WebhookDelivery delivery)
    {
        var routeShop = delivery.Channel == ChannelKind.WooCommerce ? Uri.UnescapeDataString(delivery.Path[(delivery.Path.LastIndexOf('/') + 1)..]) : null;
        var inbound = new InboundDelivery(IngestTransport.Webhook, "POST", delivery.Path, routeShop,
            [.. delivery.Headers, new("Content-Type", delivery.ContentType)], delivery.ContentType, delivery.Body, DateTime.UtcNow);
        return Receivers[delivery.Channel].Receive(inbound);
    }

    private static OrderGenerator Generator(int seed) =>
        new(DemoTestShops.DemoShopsFromSettings(), seed, OrderGenerator.NumberBaseFor(new DateTime(2026, 11, 24, 3, 0, 0, DateTimeKind.Utc)));

    [Fact]
    public void DemoShops_SameSettingsAsConnector_EveryChannelFound()
    {
        var shops = DemoTestShops.DemoShopsFromSettings();

        shops.Select(s => s.Channel).ShouldBe([ChannelKind.Shopify, ChannelKind.WooCommerce, ChannelKind.TikTokShop, ChannelKind.Amazon]);
        shops.ShouldAllBe(s => Directory.Find(Enum.Parse<Fulfillment.Schemas.Common.Channel>(s.Channel.ToString()), s.ShopId) != null);
    }

    [Fact]
    public void Create_AnyGeneratedOrder_VerifiedAndNormalizedToTheSameOrder()
    {
        Gen.Int.Sample(seed =>
        {
            var generator = Generator(seed);
            for (var i = 0; i < 40; i++)
            {
                var order = generator.Next(new DateTime(2026, 11, 24, 3, 0, i, DateTimeKind.Utc));
                var result = Receive(Payloads.Create(order));

                result.Status.ShouldBe(DeliveryStatus.Accepted, result.Reason);
                result.CorrelationId.ShouldBe(order.HubOrderId);
                if (order.Shop.Channel == ChannelKind.TikTokShop)
                {
                    // TikTok notifications carry no lines: the connector fetches the order (tested below).
                    result.Events.ShouldBeEmpty();
                    result.Fetch.ShouldNotBeNull().ChannelOrderId.ShouldBe(order.ChannelOrderId);
                    continue;
                }

                var placed = result.Events.ShouldHaveSingleItem().body.ShouldBeOfType<OrderPlaced>().order;
                placed.order_id.ShouldBe(order.HubOrderId);
                placed.shop_id.ShouldBe(order.Shop.ShopId);
                placed.lines.Select(l => (l.line_id, l.sku, l.quantity)).ShouldBe(order.HubLines.Select(l => (l.LineId, l.Sku, l.Quantity)));
                placed.lines.ShouldAllBe(l => l.flags.Count == 0);
                if (order.Shop.Channel != ChannelKind.Amazon)
                {
                    // Amazon's notification carries only the postal code.
                    placed.shipping_address.country_code.ShouldBe(order.ShipTo.CountryCode);
                }
            }
        }, iter: 25);
    }

    [Fact]
    public void Cancel_AnyGeneratedOrder_NormalizedToCancellationOfThatOrder()
    {
        var generator = Generator(11);
        for (var i = 0; i < 60; i++)
        {
            var created = new DateTime(2026, 11, 24, 3, 1, 0, DateTimeKind.Utc);
            var order = generator.Next(created);

            // Same second as the creation on purpose: WooCommerce's dedupe key must still tell the two apart.
            var create = Receive(Payloads.Create(order));
            var cancel = Receive(Payloads.Cancel(order, created));

            cancel.Status.ShouldBe(DeliveryStatus.Accepted, cancel.Reason);
            cancel.DeliveryId.ShouldNotBe(create.DeliveryId);
            cancel.Events.ShouldHaveSingleItem().body.ShouldBeOfType<OrderCancelled>().order_id.ShouldBe(order.HubOrderId);
        }
    }

    [Fact]
    public void BadSignatureAndMalformed_EveryChannel_RejectedUnauthorizedAndMalformed()
    {
        var generator = Generator(5);
        var seen = new HashSet<ChannelKind>();
        for (var i = 0; i < 80; i++)
        {
            var order = generator.Next(DateTime.UtcNow);
            seen.Add(order.Shop.Channel);

            var forged = Receive(Payloads.WithBadSignature(Payloads.Create(order)));
            var broken = Receive(Payloads.Malformed(order));

            forged.Status.ShouldBe(DeliveryStatus.Unauthorized, $"{order.Shop.Channel}: {forged.Reason}");
            forged.Events.ShouldBeEmpty();
            broken.Status.ShouldBe(DeliveryStatus.Malformed, $"{order.Shop.Channel}: {broken.Reason}");
            broken.Events.ShouldBeEmpty();
        }

        seen.Count.ShouldBe(4);
    }

    [Fact]
    public void Duplicate_SameDelivery_SameDedupeKey()
    {
        var generator = Generator(3);
        for (var i = 0; i < 40; i++)
        {
            var delivery = Payloads.Create(generator.Next(DateTime.UtcNow));

            Receive(delivery.AsDuplicate()).DeliveryId.ShouldBe(Receive(delivery).DeliveryId);
        }
    }

    [Fact]
    public void Generator_TwoRunsStartedASecondApart_NeverShareAnOrderId()
    {
        var start = new DateTime(2026, 11, 24, 3, 0, 0, DateTimeKind.Utc);
        var shops = DemoTestShops.DemoShopsFromSettings();
        var first = new OrderGenerator(shops, 1, OrderGenerator.NumberBaseFor(start));
        var second = new OrderGenerator(shops, 1, OrderGenerator.NumberBaseFor(start.AddSeconds(1)));

        var ids = Enumerable.Range(0, 5000).Select(_ => first.Next(start).HubOrderId).ToHashSet();

        Enumerable.Range(0, 5000).Select(_ => second.Next(start).HubOrderId).ShouldAllBe(id => !ids.Contains(id));
        ids.Count.ShouldBe(5000);
    }

    [Fact]
    public async Task TikTokOrderDetail_FromTheDemoStub_FetchedByTheConnectorAsTheGeneratedOrder()
    {
        await using var stub = new ChannelApiStub();
        await stub.StartAsync("http://127.0.0.1:0", CancellationToken.None);
        var directory = DemoTestShops.ConnectorDirectory(stub.Url);
        using var http = new HttpClient();
        var fetcher = new TikTokShopOrderFetcher(http, directory, TimeProvider.System);
        var generator = Generator(9);
        var order = Enumerable.Range(0, 200).Select(_ => generator.Next(DateTime.UtcNow)).First(o => o.Shop.Channel == ChannelKind.TikTokShop && o.Lines.Any(l => l.Quantity > 1));
        stub.Register(order);
        var notification = Receive(Payloads.Create(order));

        // The shop as the connector configured with the stub's URL sees it (the notification was checked without one).
        var shop = directory.Find(Fulfillment.Schemas.Common.Channel.TikTokShop, order.Shop.ShopId).ShouldNotBeNull();
        var fetched = await fetcher.FetchAsync(new DeliveryContext("tiktok-shop", notification.DeliveryId, shop, DateTime.UtcNow),
            notification.Fetch!, CancellationToken.None);

        fetched.ShouldNotBeNull().order_id.ShouldBe(order.HubOrderId);
        fetched.lines.Select(l => (l.line_id, l.sku, l.quantity)).ShouldBe(order.HubLines.Select(l => (l.LineId, l.Sku, l.Quantity)));
        fetched.lines.Count.ShouldBe(order.Lines.Sum(l => l.Quantity));
        fetched.shipping_address.country_code.ShouldBe(order.ShipTo.CountryCode);
    }
}
