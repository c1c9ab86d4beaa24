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

    /// <summary>Concurrent group-commit writers. One by default: a batch's fixed cost in Postgres (statement start, commit,
    /// WAL flush) is most of what a delivery costs there, and a second writer halves the batches (bench webhooks: 8 instead
    /// of 14 deliveries per commit, Postgres 82-99 instead of 49-63 µs per delivery, and fewer requests/s). More writers
    /// only help when one connection's round trips, not the CPU, are the limit (a remote database).</summary>
    [Range(1, 16)]
    public int StoreWriters { get; set; } = 1;

    /// <summary>How long the producer gathers records before sending (librdkafka <c>linger.ms</c>). Records go out after
    /// the sender was answered, so this adds to how soon consumers see a delivery, not to the acknowledgement; longer
    /// lingers make fewer, larger produce requests (the raw topic's key spreads records over every partition).</summary>
    [Range(0, 1000)]
    public int ProduceLingerMs { get; set; } = 20;

    /// <summary>How often stored deliveries that never reached Kafka are looked for.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How old an unpublished delivery must be before the sweeper republishes it (the live path owns younger ones).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SweepAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Unauthenticated deliveries (unknown shop, missing or wrong signature) stored per remote address before
    /// the rest are answered 429 and dropped (<see cref="UnknownSenderLimiter"/>).</summary>
    [Range(1, 1_000_000)]
    public int UnauthenticatedPerAddressBurst { get; set; } = 100;

    /// <summary>Refill of <see cref="UnauthenticatedPerAddressBurst"/>, per minute.</summary>
    [Range(1, 600_000)]
    public int UnauthenticatedPerAddressPerMinute { get; set; } = 60;

    /// <summary>Deliveries naming the same unknown shop stored before the rest are answered 429 and dropped.</summary>
    [Range(1, 1_000_000)]
    public int UnknownShopBurst { get; set; } = 10;

    /// <summary>Refill of <see cref="UnknownShopBurst"/>, per minute.</summary>
    [Range(1, 600_000)]
    public int UnknownShopPerMinute { get; set; } = 6;

    /// <summary>How often pollers run for shops with an API base URL (Amazon getOrders, WooCommerce reconciliation).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(5);
}
