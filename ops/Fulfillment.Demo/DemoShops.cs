using Microsoft.Extensions.Configuration;

namespace Fulfillment.Demo;

/// <summary>The sales channels the demo speaks for. Names match the connector's <c>Channel</c> enum.</summary>
public enum ChannelKind
{
    Shopify,
    WooCommerce,
    TikTokShop,
    Amazon,
    Ebay,
}

/// <summary>One shop the demo sends as. The secret is what the connector verifies with: Shopify/WooCommerce webhook
/// secret, TikTok Shop app secret (with <see cref="AppKey"/>), Amazon relay API key; empty for eBay (polled, nothing
/// signed).</summary>
public sealed record DemoShop(ChannelKind Channel, string ShopId, string PoolId, string Secret, string? AppKey)
{
    /// <summary>The connector's source name, the first part of every hub order id.</summary>
    public string Source => Channel switch
    {
        ChannelKind.Shopify => "shopify",
        ChannelKind.WooCommerce => "woocommerce",
        ChannelKind.TikTokShop => "tiktok-shop",
        ChannelKind.Amazon => "amazon",
        _ => "ebay",
    };

    /// <summary>The hub's order id for one of this shop's orders (the connector's <c>OrderEvents.OrderId</c>).</summary>
    public string HubOrderId(string channelOrderId) => $"{Source}:{ShopId}:{channelOrderId}";

    /// <summary>Never prints the secret.</summary>
    public override string ToString() => $"{Channel} shop {ShopId} (pool {PoolId})";
}

/// <summary>
/// Reads the shops from the same configuration keys the webhook connector binds (<c>Channels:Shops:N:Channel</c>,
/// <c>ShopId</c>, <c>PoolId</c>, <c>Secret</c> or <c>SecretEnvironmentVariable</c>, <c>AppKey</c>), so one set of
/// environment variables configures both sides and the demo signs with exactly the secrets the connector checks.
/// </summary>
public static class DemoShops
{
    public static IReadOnlyList<DemoShop> From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var shops = new List<DemoShop>();
        foreach (var section in configuration.GetSection("Channels:Shops").GetChildren())
        {
            var channelText = section["Channel"];
            var shopId = section["ShopId"];
            var poolId = section["PoolId"];
            var secret = section["SecretEnvironmentVariable"] is { Length: > 0 } variable
                ? Environment.GetEnvironmentVariable(variable)
                : section["Secret"];
            if (!Enum.TryParse<ChannelKind>(channelText, ignoreCase: true, out var channel) || string.IsNullOrWhiteSpace(shopId)
                || string.IsNullOrWhiteSpace(poolId) || (string.IsNullOrEmpty(secret) && channel != ChannelKind.Ebay))
            {
                throw new InvalidOperationException(
                    $"Channels:Shops:{section.Key} needs Channel, ShopId, PoolId and a secret (Secret or SecretEnvironmentVariable; eBay shops are polled and need none)");
            }

            shops.Add(new DemoShop(channel, shopId, poolId, secret ?? "", section["AppKey"]));
        }

        return shops;
    }
}
