using System.ComponentModel.DataAnnotations;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>Webhook receiver settings, bound from the <c>Connectors</c> section.</summary>
public sealed class ConnectorOptions
{
    public const string Section = "Connectors";

    /// <summary>Raw delivery topic (tests point this at a unique topic).</summary>
    [Required(AllowEmptyStrings = false)]
    public string RawIngestTopic { get; set; } = TopicCatalog.RawIngest.Name;

    /// <summary>Normalized order events topic.</summary>
    [Required(AllowEmptyStrings = false)]
    public string OrdersTopic { get; set; } = TopicCatalog.Orders.Name;

    /// <summary>Largest accepted body; larger ones get 413. Raw records must fit the broker's per-partition cap.</summary>
    [Range(1024, 4 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>Most deliveries written to Postgres in one statement (group commit).</summary>
    [Range(1, 5000)]
    public int StoreBatchSize { get; set; } = 256;

    /// <summary>Concurrent group-commit writers.</summary>
    [Range(1, 16)]
    public int StoreWriters { get; set; } = 2;

    /// <summary>How often stored deliveries that never reached Kafka are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How old an unpublished delivery must be before the sweeper republishes it (the live path owns younger ones).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SweepAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often pollers run for shops with an API base URL (Amazon getOrders, WooCommerce reconciliation).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(5);
}
