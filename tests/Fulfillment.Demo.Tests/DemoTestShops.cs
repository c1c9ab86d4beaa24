using Microsoft.Extensions.Configuration;
using Fulfillment.Connectors.Channels;

namespace Fulfillment.Demo.Tests;

/// <summary>One set of shops, as both sides read it: configuration keys (what the connector binds and the demo reads)
/// and the connector's own options object.</summary>
public static class DemoTestShops
{
    public const string Pool = "pool-demo-test";
    public const string AmazonPool = "pool-demo-test-amazon";
    public const string EbaySeller = "demo-ebay-seller";

    /// <summary>Channels:Shops:N:* settings; <paramref name="tikTokApi"/> is where the connector fetches TikTok orders
    /// and, when given, polls an eBay seller's orders.</summary>
    public static Dictionary<string, string> Settings(Uri? tikTokApi = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Channels:Shops:0:Channel"] = "Shopify",
            ["Channels:Shops:0:ShopId"] = "demo-outdoor.myshopify.com",
            ["Channels:Shops:0:PoolId"] = Pool,
            ["Channels:Shops:0:Secret"] = "shpss_demo_test_0f1e2d3c",
            ["Channels:Shops:1:Channel"] = "WooCommerce",
            ["Channels:Shops:1:ShopId"] = "demo-woo",
            ["Channels:Shops:1:PoolId"] = Pool,
            ["Channels:Shops:1:Secret"] = "woo-demo-test-secret",
            ["Channels:Shops:2:Channel"] = "TikTokShop",
            ["Channels:Shops:2:ShopId"] = "7000000000000000042",
            ["Channels:Shops:2:PoolId"] = Pool,
            ["Channels:Shops:2:Secret"] = "tts-demo-test-app-secret",
            ["Channels:Shops:2:AppKey"] = "demoappkey42",
            ["Channels:Shops:2:ApiToken"] = "tts-demo-token",
            ["Channels:Shops:2:ShopCipher"] = "ROW_demo",
            ["Channels:Shops:3:Channel"] = "Amazon",
            ["Channels:Shops:3:ShopId"] = "ADEMOSELLER42",
            ["Channels:Shops:3:PoolId"] = AmazonPool,
            ["Channels:Shops:3:Secret"] = "amazon-relay-demo-key",
        };
        if (tikTokApi is not null)
        {
            settings["Channels:Shops:2:ApiBaseUrl"] = tikTokApi.ToString();
            // eBay is polled from the same channel API stub (no webhooks, no secret).
            settings["Channels:Shops:4:Channel"] = "Ebay";
            settings["Channels:Shops:4:ShopId"] = EbaySeller;
            settings["Channels:Shops:4:PoolId"] = AmazonPool;
            settings["Channels:Shops:4:ApiBaseUrl"] = tikTokApi.ToString();
            settings["Channels:Shops:4:ApiToken"] = "ebay-demo-token";
        }

        return settings;
    }

    public static IReadOnlyList<DemoShop> DemoShopsFromSettings(Uri? channelApi = null) =>
        DemoShops.From(new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(Settings(channelApi)!).Build());

    /// <summary>The connector's directory built from the same settings, the way the connector binds them.</summary>
    public static ShopDirectory ConnectorDirectory(Uri? tikTokApi = null)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(Settings(tikTokApi)!).Build();
        var options = new ChannelsOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection(ChannelsOptions.Section), options);
        return new ShopDirectory(options);
    }
}
