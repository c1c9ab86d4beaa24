using System.ComponentModel.DataAnnotations;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Connectors.Channels;

/// <summary>
/// The shops the hub accepts deliveries from and the inventory pool each belongs to. Bound from the <c>Channels</c>
/// section. Secrets come from the environment: set <see cref="ShopOptions.SecretEnvironmentVariable"/> to the name of a
/// variable, or set <c>Channels__Shops__N__Secret</c> itself; never put a secret in a checked-in file.
/// </summary>
public sealed class ChannelsOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Channels";

    /// <summary>Every shop, store or seller account, on every channel.</summary>
    public IList<ShopOptions> Shops { get; } = [];

    /// <summary>Known SKUs per pool id. A pool listed here gets lines with other SKUs flagged
    /// <c>UnknownSku</c> (the order is still kept); a pool not listed is not checked.</summary>
    public IDictionary<string, IList<string>> SkuCatalogs { get; } = new Dictionary<string, IList<string>>(StringComparer.Ordinal);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        for (var i = 0; i < Shops.Count; i++)
        {
            var shop = Shops[i];
            var at = $"{Section}:Shops:{i}";
            if (shop.Channel is null)
            {
                yield return new ValidationResult($"{at}:Channel is required (Shopify, WooCommerce, Amazon, Ebay, TikTokShop)");
            }

            if (string.IsNullOrWhiteSpace(shop.ShopId))
            {
                yield return new ValidationResult($"{at}:ShopId is required");
            }

            if (string.IsNullOrWhiteSpace(shop.PoolId))
            {
                yield return new ValidationResult($"{at}:PoolId is required");
            }

            // eBay orders are polled over OAuth (ApiToken); there is no webhook whose signature a secret would check.
            if (string.IsNullOrEmpty(shop.ResolveSecret()) && shop.Channel != Channel.Ebay)
            {
                // The message names the variable, never a value.
                yield return new ValidationResult(shop.SecretEnvironmentVariable is { Length: > 0 } variable
                    ? $"{at}: environment variable {variable} (the shop's secret) is not set"
                    : $"{at}: no secret (set SecretEnvironmentVariable, or {Section}__Shops__{i}__Secret in the environment)");
            }

            if (shop.Channel == Channel.TikTokShop && string.IsNullOrWhiteSpace(shop.AppKey))
            {
                yield return new ValidationResult($"{at}:AppKey is required for TikTok Shop (it is part of the signed message)");
            }
        }

        foreach (var duplicate in Shops.Where(s => s.Channel is not null && s.ShopId is not null)
                     .GroupBy(s => (s.Channel, Id: s.ShopId!.ToUpperInvariant())).Where(g => g.Count() > 1))
        {
            yield return new ValidationResult($"{Section}:Shops lists {duplicate.Key.Channel} shop '{duplicate.First().ShopId}' more than once");
        }
    }
}

/// <summary>One shop on one channel.</summary>
public sealed class ShopOptions
{
    /// <summary>The sales channel.</summary>
    public Channel? Channel { get; set; }

    /// <summary>The channel's id for the shop: Shopify shop domain (X-Shopify-Shop-Domain), the WooCommerce route key
    /// (<c>/webhooks/woocommerce/{ShopId}</c>), TikTok Shop <c>shop_id</c>, Amazon <c>SellerId</c>.</summary>
    public string? ShopId { get; set; }

    /// <summary>The inventory pool the shop's orders draw from (the record key of normalized events).</summary>
    public string? PoolId { get; set; }

    /// <summary>Name of the environment variable holding the secret (preferred).</summary>
    public string? SecretEnvironmentVariable { get; set; }

    /// <summary>The secret itself, when supplied by a configuration provider that is not a file (e.g. the environment).
    /// Shopify/WooCommerce: webhook signing secret; TikTok Shop: app secret; Amazon: the relay's API key.</summary>
    public string? Secret { get; set; }

    /// <summary>TikTok Shop app key (prefixed to the body in the signed message).</summary>
    public string? AppKey { get; set; }

    /// <summary>Channel API base URL for polling (SP-API regional endpoint, the WooCommerce site). No polling when unset.</summary>
    public Uri? ApiBaseUrl { get; set; }

    /// <summary>Name of the environment variable holding the API credential used by pollers (SP-API access token;
    /// WooCommerce <c>consumer_key:consumer_secret</c>).</summary>
    public string? ApiTokenEnvironmentVariable { get; set; }

    /// <summary>The API credential itself when a non-file provider supplies it.</summary>
    public string? ApiToken { get; set; }

    /// <summary>TikTok Shop <c>shop_cipher</c> (API calls name the shop by it).</summary>
    public string? ShopCipher { get; set; }

    /// <summary>Amazon marketplaces to poll.</summary>
    public IList<string> MarketplaceIds { get; } = [];

    internal string? ResolveApiToken() =>
        ApiTokenEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : ApiToken;

    internal string? ResolveSecret() =>
        SecretEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : Secret;

    /// <summary>Never prints the secret.</summary>
    public override string ToString() => $"{Channel} shop {ShopId} → pool {PoolId}";
}
