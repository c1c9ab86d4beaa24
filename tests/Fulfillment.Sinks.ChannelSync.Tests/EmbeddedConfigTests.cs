using Fulfillment.Schemas.Common;
using Fulfillment.Testing;
using Microsoft.Extensions.Configuration;

namespace Fulfillment.Sinks.ChannelSync.Tests;

/// <summary>The embedded stack's shop configuration (ops/dev/embedded.env, what `ops/fulfillment up` and the drills give
/// every worker) as channel sync binds it: an inbound shop missing here has its shipments dead-lettered and its stock
/// skipped, which is how the TikTok Shop demo shop went unsynced.</summary>
public class EmbeddedConfigTests
{
    [Fact]
    public void EmbeddedStackConfig_EveryInboundShop_IsAValidChannelSyncShop()
    {
        var config = EmbeddedEnv();
        var options = new ChannelSyncOptions();
        config.GetSection(ChannelSyncOptions.Section).Bind(options);
        var inbound = config.GetSection("Channels:Shops").GetChildren()
            .Select(s => (Channel: Enum.Parse<Channel>(s["Channel"]!), ShopId: s["ShopId"]!, AppKey: s["AppKey"], Secret: s["SecretEnvironmentVariable"]))
            .ToList();

        inbound.Select(s => s.Channel).Distinct().Count().ShouldBe(5);
        foreach (var shop in inbound)
        {
            var outbound = options.Shops.Where(o => o.Channel == shop.Channel && string.Equals(o.ShopId, shop.ShopId, StringComparison.OrdinalIgnoreCase)).ToList();
            outbound.Count.ShouldBe(1, $"{shop.Channel} shop {shop.ShopId} should have exactly one ChannelSync:Shops entry");
            if (shop.Channel == Channel.TikTokShop)
            {
                // One TikTok app: the secret that signs its webhooks also signs the hub's API calls.
                outbound[0].AppKey.ShouldBe(shop.AppKey);
                outbound[0].AppSecretEnvironmentVariable.ShouldBe(shop.Secret);
                outbound[0].ShippingProviders.Keys.ShouldContain("UPS", "the carrier the demo warehouses ship with");
            }
        }

        // The secrets are named, not given: `up` generates each named variable; here each stands for a set one.
        foreach (var shop in options.Shops)
        {
            (shop.Token, shop.TokenEnvironmentVariable) = (shop.TokenEnvironmentVariable is null ? shop.Token : "token", null);
            (shop.AppSecret, shop.AppSecretEnvironmentVariable) = (shop.AppSecretEnvironmentVariable is null ? shop.AppSecret : "secret", null);
        }

        var result = new ChannelSyncOptionsValidator().Validate(null, options);
        result.Succeeded.ShouldBeTrue(string.Join("; ", result.Failures ?? []));
    }

    /// <summary>embedded.env read the way `up` reads it (KEY=VALUE, # comments, `__` = `:`), the channel API placeholder
    /// filled in.</summary>
    private static IConfiguration EmbeddedEnv()
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in File.ReadAllLines(RepoPaths.Get("ops", "dev", "embedded.env")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            values[line[..eq].Replace("__", ":", StringComparison.Ordinal)] =
                line[(eq + 1)..].Replace("{CHANNEL_API_URL}", "http://127.0.0.1:18190", StringComparison.Ordinal);
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }
}
