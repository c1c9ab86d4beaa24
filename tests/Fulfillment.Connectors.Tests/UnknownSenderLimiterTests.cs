using Fulfillment.Connectors.Webhooks;
using Microsoft.Extensions.Options;

namespace Fulfillment.Connectors.Tests;

public class UnknownSenderLimiterTests
{
    private static UnknownSenderLimiter Limiter(int perAddress, int perKey) => new(Options.Create(new ConnectorOptions
    {
        UnauthenticatedPerAddressBurst = perAddress,
        UnauthenticatedPerAddressPerMinute = 1,
        UnknownShopBurst = perKey,
        UnknownShopPerMinute = 1,
    }));

    [Fact]
    public void TryAcquire_OneAddressPastItsBurst_IsRefusedWhileOtherAddressesAreNot()
    {
        using var limiter = Limiter(perAddress: 3, perKey: 100);

        var first = Enumerable.Range(0, 5).Select(i => limiter.TryAcquire("203.0.113.7", null)).ToList();

        first.ShouldBe([true, true, true, false, false]);
        limiter.TryAcquire("198.51.100.2", null).ShouldBeTrue();
    }

    [Fact]
    public void TryAcquire_SameUnknownShopFromManyAddresses_IsRefusedPastTheKeyBurstCaseInsensitively()
    {
        using var limiter = Limiter(perAddress: 100, perKey: 2);

        limiter.TryAcquire("203.0.113.1", "shopify:ghost.myshopify.com").ShouldBeTrue();
        limiter.TryAcquire("203.0.113.2", "shopify:GHOST.myshopify.com").ShouldBeTrue();
        limiter.TryAcquire("203.0.113.3", "shopify:ghost.myshopify.com").ShouldBeFalse();
        limiter.TryAcquire("203.0.113.3", "shopify:other.myshopify.com").ShouldBeTrue();
    }
}
