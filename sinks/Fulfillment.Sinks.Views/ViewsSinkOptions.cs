using System.ComponentModel.DataAnnotations;
using Fulfillment.Schemas.Topics;

namespace Fulfillment.Sinks.Views;

/// <summary>The views sink's settings, bound from the <c>ViewsSink</c> section (env <c>ViewsSink__Schema</c>, ...).</summary>
public sealed class ViewsSinkOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "ViewsSink";

    /// <summary>Postgres schema the views live in. Replay builds another one beside it with the same code.</summary>
    [Required]
    [RegularExpression("^[a-z_][a-z0-9_]{0,49}$")]
    public string Schema { get; set; } = "views";

    /// <summary>Name under which consumed positions are stored in <c>{Schema}.sink_offsets</c>.</summary>
    [Required]
    public string Consumer { get; set; } = "views-sink";

    /// <summary>Kafka consumer group (partition assignment only: positions live in Postgres, never in Kafka).</summary>
    [Required]
    public string GroupId { get; set; } = "fulfillment-views-sink";

    /// <summary>Most records written in one transaction.</summary>
    [Range(1, 100_000)]
    public int MaxBatch { get; set; } = 5000;

    /// <summary>How long a batch may wait for more records once it has taken everything the client had already
    /// fetched. 0: none — batches still grow under load, since records keep arriving while a transaction commits, and
    /// an idle stream is written as soon as it is read (bench freshness: a 50 ms linger cost ~50 ms of p50 and bought
    /// nothing at 2,000 order events/s).</summary>
    [Range(0, 10_000)]
    public int MaxBatchWaitMs { get; set; }

    /// <summary>librdkafka <c>fetch.wait.max.ms</c>. Real Kafka answers a parked fetch as soon as data arrives, so this
    /// costs nothing there; the development broker answers it only when the wait expires, which makes it a latency floor
    /// (librdkafka's 500 ms default alone put the median freshness above 500 ms). 20 ms costs an idle sink a few small
    /// fetch requests per second per broker.</summary>
    [Range(1, 500)]
    public int FetchWaitMaxMs { get; set; } = 20;

    /// <summary>Copy raw deliveries, normalized orders, operator commands and push outcomes into <c>durable.topic_archive</c> (the live sink
    /// does, a replay must not).</summary>
    public bool Archive { get; set; } = true;

    /// <summary>Consumer session timeout: short, so a restarted sink takes its partitions back quickly.</summary>
    [Range(1000, 300_000)]
    public int SessionTimeoutMs { get; set; } = 6000;

    /// <summary>Topic names (defaults: the catalog's). Tests point them at their own unique topics.</summary>
    [Required]
    public ViewTopics Topics { get; set; } = new();
}

/// <summary>The topics the views are built from.</summary>
public sealed class ViewTopics
{
    public string RawIngest { get; set; } = TopicCatalog.RawIngest.Name;

    public string Orders { get; set; } = TopicCatalog.Orders.Name;

    public string Allocations { get; set; } = TopicCatalog.Allocations.Name;

    public string StockLevels { get; set; } = TopicCatalog.StockLevels.Name;

    public string Shipments { get; set; } = TopicCatalog.Shipments.Name;

    public string Tracking { get; set; } = TopicCatalog.Tracking.Name;

    public string ChannelPushOutcomes { get; set; } = TopicCatalog.ChannelPushOutcomes.Name;

    public string DeadLetters { get; set; } = TopicCatalog.DeadLetters.Name;

    public string OperatorCommands { get; set; } = TopicCatalog.OperatorCommands.Name;

    /// <summary>(kind, topic name) of every consumed topic.</summary>
    public IReadOnlyList<(TopicKind Kind, string Name)> All() =>
    [
        (TopicKind.RawIngest, RawIngest),
        (TopicKind.Orders, Orders),
        (TopicKind.Allocations, Allocations),
        (TopicKind.StockLevels, StockLevels),
        (TopicKind.Shipments, Shipments),
        (TopicKind.Tracking, Tracking),
        (TopicKind.ChannelPushOutcomes, ChannelPushOutcomes),
        (TopicKind.DeadLetters, DeadLetters),
        (TopicKind.OperatorCommands, OperatorCommands),
    ];
}

/// <summary>What a consumed topic carries.</summary>
public enum TopicKind
{
    RawIngest,
    Orders,
    Allocations,
    StockLevels,
    Shipments,
    Tracking,
    ChannelPushOutcomes,
    DeadLetters,
    OperatorCommands,
}
