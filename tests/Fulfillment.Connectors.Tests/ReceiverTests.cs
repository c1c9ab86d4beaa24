using System.ComponentModel.DataAnnotations;
using System.Text;
using Fulfillment.Connectors.Channels;
using Fulfillment.Connectors.Tests.Infrastructure;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Tests;

/// <summary>The pure receivers, without HTTP or Kafka.</summary>
public class ReceiverTests
{
    // RFC 4231 test case 2.
    private static readonly byte[] Key = Encoding.ASCII.GetBytes("Jefe");
    private static readonly byte[] Data = Encoding.ASCII.GetBytes("what do ya want for nothing?");
    private const string Rfc4231Hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    private static ShopDirectory Directory()
    {
        var options = new ChannelsOptions();
        options.Shops.Add(new ShopOptions { Channel = Channel.WooCommerce, ShopId = "w", PoolId = "p", Secret = "s" });
        options.Shops.Add(new ShopOptions { Channel = Channel.Shopify, ShopId = "x.myshopify.com", PoolId = "p", Secret = "s" });
        options.Shops.Add(new ShopOptions { Channel = Channel.TikTokShop, ShopId = "7", PoolId = "p", Secret = "s", AppKey = "k" });
        return new ShopDirectory(options);
    }

    private static InboundDelivery Delivery(byte[] body, string? routeShop = null, params (string, string)[] headers) =>
        new(IngestTransport.Webhook, "POST", "/", routeShop, [.. headers.Select(h => new KeyValuePair<string, string>(h.Item1, h.Item2))],
            "application/json", body, new DateTime(2025, 11, 20, 0, 0, 0, DateTimeKind.Utc));

    [Fact]
    public void VerifyBase64HmacSha256_Rfc4231Vector_MatchesAndRejectsOthers()
    {
        var signature = Convert.ToBase64String(Convert.FromHexString(Rfc4231Hex));

        Signatures.VerifyBase64HmacSha256(Key, Data, signature).ShouldBeTrue();
        Signatures.VerifyBase64HmacSha256(Key, [.. Data, (byte)' '], signature).ShouldBeFalse();
        Signatures.VerifyBase64HmacSha256(Key, Data, null).ShouldBeFalse();
        Signatures.VerifyBase64HmacSha256(Key, Data, "not base64!").ShouldBeFalse();
        Signatures.VerifyBase64HmacSha256(Key, Data, Convert.ToBase64String(new byte[16])).ShouldBeFalse();
    }

    [Fact]
    public void VerifyTikTok_AppKeyPrefixedHex_MatchesEitherCase()
    {
        // app key "what do ya " + body "want for nothing?" is the RFC message.
        var body = Encoding.ASCII.GetBytes("want for nothing?");

        Signatures.VerifyTikTok(Key, "what do ya ", body, Rfc4231Hex).ShouldBeTrue();
        Signatures.VerifyTikTok(Key, "what do ya ", body, Rfc4231Hex.ToUpperInvariant()).ShouldBeTrue();
        Signatures.VerifyTikTok(Key, "other", body, Rfc4231Hex).ShouldBeFalse();
        Signatures.VerifyTikTok(Key, "what do ya ", body, "zz" + Rfc4231Hex[2..]).ShouldBeFalse();
    }

    [Fact]
    public void ChannelsOptions_SecretVariableUnset_FailsNamingTheVariableOnly()
    {
        var options = new ChannelsOptions();
        options.Shops.Add(new ShopOptions { Channel = Channel.Shopify, ShopId = "a", PoolId = "p", SecretEnvironmentVariable = "FULFILLMENT_TEST_UNSET_" + Guid.NewGuid().ToString("N") });
        options.Shops.Add(new ShopOptions { Channel = Channel.TikTokShop, ShopId = "b", PoolId = "p", Secret = "hunter2" });

        var errors = options.Validate(new ValidationContext(options)).Select(e => e.ErrorMessage).ToList();

        errors.ShouldContain(e => e!.Contains("FULFILLMENT_TEST_UNSET_", StringComparison.Ordinal));
        errors.ShouldContain(e => e!.Contains("AppKey", StringComparison.Ordinal));
        errors.ShouldNotContain(e => e!.Contains("hunter2", StringComparison.Ordinal));
        options.Shops[1].ToString().ShouldNotContain("hunter2");
    }

    [Theory]
    [InlineData("Express Shipping", ServiceLevel.Expedited)]
    [InlineData("UPS Next Day Air", ServiceLevel.NextDay)]
    [InlineData("flat_rate Flat Rate", ServiceLevel.Standard)]
    [InlineData("local_pickup", ServiceLevel.StorePickup)]
    [InlineData("Economy", ServiceLevel.Economy)]
    [InlineData("Same-Day Courier", ServiceLevel.SameDay)]
    [InlineData("Mystery", ServiceLevel.Unspecified)]
    [InlineData(null, ServiceLevel.Unspecified)]
    public void ServiceLevelOf_ChannelShippingText_MapsByKeyword(string? text, ServiceLevel expected) =>
        OrderEvents.ServiceLevelOf(text).ShouldBe(expected);

    [Fact]
    public void DeterministicId_SameInput_SameIdAndDifferentInputDifferentId()
    {
        OrderEvents.DeterministicId("a").ShouldBe(OrderEvents.DeterministicId("a"));
        OrderEvents.DeterministicId("a").ShouldNotBe(OrderEvents.DeterministicId("b"));
        Guid.TryParse(OrderEvents.DeterministicId("a"), out _).ShouldBeTrue();
    }

    [Fact]
    public void WooCommerce_CheckoutDraft_IsAcceptedWithoutEvents()
    {
        var body = Payloads.WooOrder(5, "2025-11-20T12:15:04", status: "checkout-draft");
        var signature = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData("s"u8.ToArray(), body));

        var result = new WooCommerceReceiver(Directory()).Receive(Delivery(body, "w", ("X-WC-Webhook-Topic", "order.updated"), ("X-WC-Webhook-Signature", signature)));

        result.Status.ShouldBe(DeliveryStatus.Accepted);
        result.Events.ShouldBeEmpty();
    }

    [Fact]
    public void WooCommerce_OrderDeleted_ProducesCancelledFromIdOnly()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":991}""");
        var signature = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData("s"u8.ToArray(), body));

        var result = new WooCommerceReceiver(Directory()).Receive(Delivery(body, "w", ("X-WC-Webhook-Topic", "order.deleted"), ("X-WC-Webhook-Signature", signature)));

        result.DeliveryId.ShouldBe("order:991:deleted");
        result.Events.Single().body.ShouldBeOfType<OrderCancelled>().reason.ShouldBe("deleted");
    }

    [Fact]
    public void Shopify_NonOrderTopic_IsAcceptedWithoutEvents()
    {
        var body = Encoding.UTF8.GetBytes("""{"id":1,"title":"Tent"}""");
        var signature = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData("s"u8.ToArray(), body));

        var result = new ShopifyReceiver(Directory()).Receive(Delivery(body, null, ("X-Shopify-Topic", "products/update"),
            ("X-Shopify-Shop-Domain", "X.myshopify.com"), ("X-Shopify-Event-Id", "e1"), ("X-Shopify-Hmac-Sha256", signature)));

        result.Status.ShouldBe(DeliveryStatus.Accepted);
        result.DeliveryId.ShouldBe("e1");
        result.Events.ShouldBeEmpty();
    }

    [Fact]
    public void TikTok_AwaitingShipment_AsksForTheOrderToBeFetched()
    {
        var body = Payloads.TikTokStatus("n1", "576", "AWAITING_SHIPMENT", shopId: "7");
        var signature = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData("s"u8.ToArray(), (byte[])[.. "k"u8.ToArray(), .. body]));

        var result = new TikTokShopReceiver(Directory()).Receive(Delivery(body, null, ("Authorization", signature)));

        result.Status.ShouldBe(DeliveryStatus.Accepted);
        result.Events.ShouldBeEmpty();
        result.Fetch.ShouldBe(new OrderFetchRequest("576", "AWAITING_SHIPMENT", DateTime.UnixEpoch.AddSeconds(1732111990)));
    }

    [Fact]
    public void Shopify_ForgedDeliveryWithGenuineEventId_IsNotAcceptedSoCannotShadowTheGenuineOne()
    {
        var body = Payloads.ShopifyOrder(1);

        var result = new ShopifyReceiver(Directory()).Receive(Delivery(body, null, ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Shop-Domain", "x.myshopify.com"), ("X-Shopify-Event-Id", "e1"), ("X-Shopify-Hmac-Sha256", "AAAA")));

        result.Status.ShouldBe(DeliveryStatus.Unauthorized);
        result.Accepted.ShouldBeFalse();
        result.SignatureVerified.ShouldBeFalse();
    }
}
