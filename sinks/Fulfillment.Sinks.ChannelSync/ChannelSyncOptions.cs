using System.ComponentModel.DataAnnotations;
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

    internal string? ResolveToken() =>
        TokenEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : Token;

    public override string ToString() => $"{Channel} shop {ShopId} at {BaseUrl}";
}
