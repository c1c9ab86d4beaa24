using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Outbound sync settings, bound from the <c>ChannelSync</c> section. Credentials come from the environment
/// (<see cref="ChannelEndpoint.TokenEnvironmentVariable"/>), never from checked-in files, and are never logged.</summary>
public sealed class ChannelSyncOptions
{
    public const string Section = "ChannelSync";

    /// <summary>Where and how to call each shop's API.</summary>
    public IList<ChannelEndpoint> Shops { get; } = [];

    /// <summary>Attempts per push before it is dead-lettered.</summary>
    [Range(1, 50)]
    public int MaxAttempts { get; set; } = 6;

    /// <summary>First retry delay; doubles per attempt with full jitter, up to <see cref="MaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Stock changes of one SKU on one shop within this window are pushed once, with the last figure.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan StockCoalesceWindow { get; set; } = TimeSpan.FromMilliseconds(500);

    [Required(AllowEmptyStrings = false)]
    public string ShipmentsTopic { get; set; } = TopicCatalog.Shipments.Name;

    [Required(AllowEmptyStrings = false)]
    public string StockLevelsTopic { get; set; } = TopicCatalog.StockLevels.Name;

    [Required(AllowEmptyStrings = false)]
    public string OutcomesTopic { get; set; } = TopicCatalog.ChannelPushOutcomes.Name;

    [Required(AllowEmptyStrings = false)]
    public string DeadLettersTopic { get; set; } = TopicCatalog.DeadLetters.Name;

    [Required(AllowEmptyStrings = false)]
    public string ConsumerGroup { get; set; } = "sink-channel-sync";

    /// <summary>Postgres schema of the handled-records ledger (used when <c>Postgres:ConnectionString</c> is set), which
    /// keeps a re-seeded broker's re-derived events from being pushed again.</summary>
    [RegularExpression("^[a-z_][a-z0-9_]{0,49}$")]
    public string LedgerSchema { get; set; } = "channel_sync";
}

/// <summary>One shop's API.</summary>
public sealed class ChannelEndpoint
{
    public Channel? Channel { get; set; }

    /// <summary>Same id as the connectors use (Shopify domain, WooCommerce key, Amazon SellerId, ...).</summary>
    public string? ShopId { get; set; }

    /// <summary>API base URL, e.g. https://acme.myshopify.com, https://sellingpartnerapi-na.amazon.com, https://api.ebay.com.</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Name of the environment variable holding the access token (Shopify Admin token, SP-API LWA access
    /// token, eBay OAuth token) or, for WooCommerce, <c>consumer_key:consumer_secret</c>.</summary>
    public string? TokenEnvironmentVariable { get; set; }

    /// <summary>The token itself when a non-file provider supplies it (environment <c>ChannelSync__Shops__N__Token</c>).</summary>
    public string? Token { get; set; }

    /// <summary>Amazon marketplace id for shipment confirmations.</summary>
    public string? MarketplaceId { get; set; }

    /// <summary>Shopify location gid whose available quantity the hub sets.</summary>
    public string? LocationId { get; set; }

    /// <summary>Shopify Admin API version.</summary>
    public string ApiVersion { get; set; } = "2025-10";

    /// <summary>TikTok Shop app key (a public identifier; signed into every request).</summary>
    public string? AppKey { get; set; }

    /// <summary>Name of the environment variable holding the TikTok Shop app secret that signs requests.</summary>
    public string? AppSecretEnvironmentVariable { get; set; }

    /// <summary>The app secret itself when a non-file provider supplies it (environment <c>ChannelSync__Shops__N__AppSecret</c>).</summary>
    public string? AppSecret { get; set; }

    /// <summary>TikTok Shop <c>shop_cipher</c> (which shop of the authorized seller a request is for).</summary>
    public string? ShopCipher { get; set; }

    /// <summary>TikTok Shop warehouse whose quantity the hub sets; without it TikTok updates the shop's default warehouse.</summary>
    public string? WarehouseId { get; set; }

    /// <summary>TikTok Shop <c>shipping_provider_id</c> per carrier name as the warehouses report it (e.g. <c>UPS</c>),
    /// from TikTok's Get Shipping Providers API. A carrier missing here is refused, not guessed.</summary>
    public IDictionary<string, string> ShippingProviders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    internal string? ResolveToken() =>
        TokenEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : Token;

    internal string? ResolveAppSecret() =>
        AppSecretEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : AppSecret;

    public override string ToString() => $"{Channel} shop {ShopId} at {BaseUrl}";
}

/// <summary>Refuses to start with a shop the worker could not call: missing channel, id or URL, an Amazon shop without a
/// marketplace, a TikTok Shop shop without app key and secret, or a credential variable that is named but unset.
/// Messages name the setting, never a secret's value. No shops at all is valid: the worker then pushes nothing.</summary>
public sealed class ChannelSyncOptionsValidator : IValidateOptions<ChannelSyncOptions>
{
    public ValidateOptionsResult Validate(string? name, ChannelSyncOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        for (var i = 0; i < options.Shops.Count; i++)
        {
            var shop = options.Shops[i];
            var at = $"ChannelSync:Shops:{i}";
            if (shop.Channel is null or Channel.Manual)
            {
                errors.Add($"{at}:Channel must be Shopify, WooCommerce, Amazon, Ebay or TikTokShop");
            }

            if (string.IsNullOrWhiteSpace(shop.ShopId))
            {
                errors.Add($"{at}:ShopId is required");
            }

            if (shop.BaseUrl is not { IsAbsoluteUri: true })
            {
                errors.Add($"{at}:BaseUrl must be an absolute URL");
            }

            if (shop.TokenEnvironmentVariable is { Length: > 0 } tokenVariable && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(tokenVariable)))
            {
                errors.Add($"{at}:TokenEnvironmentVariable names {tokenVariable}, which is not set");
            }

            if (shop.Channel == Channel.Amazon && string.IsNullOrWhiteSpace(shop.MarketplaceId))
            {
                errors.Add($"{at}:MarketplaceId is required for Amazon");
            }

            if (shop.Channel == Channel.TikTokShop)
            {
                if (string.IsNullOrWhiteSpace(shop.AppKey))
                {
                    errors.Add($"{at}:AppKey is required for TikTok Shop");
                }

                if (string.IsNullOrEmpty(shop.ResolveAppSecret()))
                {
                    errors.Add($"{at}: TikTok Shop needs AppSecretEnvironmentVariable (set) or AppSecret");
                }
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
