using System.Text;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Connectors.Channels;

/// <summary>A configured shop with its secret resolved. <see cref="ToString"/> never prints the secret.</summary>
public sealed class ChannelShop
{
    internal ChannelShop(Channel channel, string shopId, string poolId, byte[] secret, string? appKey, ShopOptions? options = null)
    {
        ApiBaseUrl = options?.ApiBaseUrl;
        ApiToken = options?.ResolveApiToken();
        MarketplaceIds = options is null ? [] : [.. options.MarketplaceIds];
        ShopCipher = options?.ShopCipher;
        Channel = channel;
        ShopId = shopId;
        PoolId = poolId;
        Secret = secret;
        AppKey = appKey;
    }

    public Channel Channel { get; }

    public string ShopId { get; }

    public string PoolId { get; }

    /// <summary>UTF-8 bytes of the secret.</summary>
    internal byte[] Secret { get; }

    public string? AppKey { get; }

    /// <summary>Channel API base URL for pollers, or null when the shop is not polled.</summary>
    public Uri? ApiBaseUrl { get; }

    /// <summary>API credential for pollers (never logged).</summary>
    public string? ApiToken { get; }

    public IReadOnlyList<string> MarketplaceIds { get; }

    /// <summary>TikTok Shop shop_cipher for API calls.</summary>
    public string? ShopCipher { get; }

    public override string ToString() => $"{Channel} shop {ShopId} (pool {PoolId})";
}

/// <summary>Shop lookup (shop → pool, secrets) and the per-pool SKU catalogs.</summary>
public sealed class ShopDirectory
{
    private readonly Dictionary<(Channel, string), ChannelShop> _shops;
    private readonly Dictionary<string, HashSet<string>> _catalogs;

    public ShopDirectory(ChannelsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _shops = [];
        foreach (var shop in options.Shops)
        {
            var secret = shop.ResolveSecret();
            if (shop.Channel is not { } channel || string.IsNullOrWhiteSpace(shop.ShopId) || string.IsNullOrWhiteSpace(shop.PoolId)
                || (string.IsNullOrEmpty(secret) && channel != Channel.Ebay))
            {
                throw new ArgumentException($"Invalid shop configuration: {shop}", nameof(options));
            }

            _shops[(channel, Normalize(shop.ShopId))] = new ChannelShop(channel, shop.ShopId, shop.PoolId, Encoding.UTF8.GetBytes(secret ?? ""), shop.AppKey, shop);
        }

        _catalogs = options.SkuCatalogs.ToDictionary(kv => kv.Key, kv => kv.Value.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    /// <summary>Every configured shop of a channel.</summary>
    public IEnumerable<ChannelShop> ShopsOf(Channel channel) => _shops.Values.Where(s => s.Channel == channel);

    /// <summary>The shop, or null when it is not configured. Shop ids compare case-insensitively (domains).</summary>
    public ChannelShop? Find(Channel channel, string? shopId) =>
        shopId is { Length: > 0 } && _shops.TryGetValue((channel, Normalize(shopId)), out var shop) ? shop : null;

    /// <summary>False when the pool has a catalog and the SKU is not in it (or the SKU is empty).</summary>
    public bool IsKnownSku(string poolId, string? sku) =>
        !string.IsNullOrEmpty(sku) && (!_catalogs.TryGetValue(poolId, out var skus) || skus.Contains(sku));

    private static string Normalize(string shopId) => shopId.Trim().ToUpperInvariant();
}
