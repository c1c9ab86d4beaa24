using System.Text.RegularExpressions;

namespace Fulfillment.Schemas.Topics;

/// <summary>Every topic the hub uses. The development broker pre-creates exactly these; compose creates them too.</summary>
/// <remarks>
/// Names are a contract with other workers, external consumers and stored offsets: never rename a topic, add a new one.
/// Every value is one Avro record whose first field is <c>metadata</c> (Common.EventMetadata); a topic carrying several
/// event kinds has an envelope record with a <c>body</c> union, because the Confluent serializer registers one schema
/// per topic subject (<c>{topic}-value</c>).
/// </remarks>
public static partial class TopicCatalog
{
    /// <summary>Co-partition group of everything that changes or consumes a pool's stock (ARCHITECTURE.md decision 1).</summary>
    public const string PoolGroup = "pool";

    /// <summary>Partition count of the pool group: the unit of scale-out is a pool, one task owns a partition's pools.</summary>
    public const int PoolPartitions = 12;

    private const string PoolKey = "pool id (UTF-8 string)";

    /// <summary>Raw inbound payloads (body bytes + headers), stored before anything else; the audit and replay source.</summary>
    public static TopicSpec RawIngest { get; } = new(
        "fulfillment.raw-ingest", PoolPartitions, "source + \":\" + delivery id (UTF-8 string)",
        "Fulfillment.Schemas.Ingest.RawIngestRecord", RetentionIntent.Forever, CoPartitionGroup: null);

    /// <summary>Normalised channel orders: placed, updated, cancelled.</summary>
    public static TopicSpec Orders { get; } = new(
        "fulfillment.orders", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.Orders.OrderEvent", RetentionIntent.Time, PoolGroup);

    /// <summary>Stock movements: received, adjusted, counted, transfers, allocated/released, shipped, restocked, 3PL snapshots.</summary>
    public static TopicSpec StockMovements { get; } = new(
        "fulfillment.stock-movements", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.Stock.StockMovementEvent", RetentionIntent.Time, PoolGroup);

    /// <summary>Shipment confirmations from locations and 3PLs.</summary>
    public static TopicSpec Shipments { get; } = new(
        "fulfillment.shipments", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.Shipments.ShipmentEvent", RetentionIntent.Time, PoolGroup);

    /// <summary>Operator commands (locations, routing rules, safety stock, receive/adjust/count/transfer); kept forever
    /// because, with the raw topic, they are what every downstream state is rebuilt from.</summary>
    public static TopicSpec OperatorCommands { get; } = new(
        "fulfillment.operator-commands", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.Operator.OperatorCommand", RetentionIntent.Forever, PoolGroup);

    /// <summary>Allocation decisions: decided, backordered, released.</summary>
    public static TopicSpec Allocations { get; } = new(
        "fulfillment.allocations", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.Allocations.AllocationEvent", RetentionIntent.Time, PoolGroup);

    /// <summary>Stock level changes per SKU × location (with per-channel available-to-sell), detected drift, and every
    /// on-hand movement the pool ledger booked (StockMoved; they sum to on hand per SKU × location).</summary>
    public static TopicSpec StockLevels { get; } = new(
        "fulfillment.stock-levels", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.Stock.StockLevelEvent", RetentionIntent.Time, PoolGroup);

    /// <summary>Changelog of the inventory pool processor's <c>commands</c> store (the stream runtime names changelogs
    /// <c>{application id}-{store}-changelog</c>); the value format belongs to the runtime. Pre-created here because a
    /// topic auto-created by the development broker gets 4 partitions and would break co-partitioning.</summary>
    public static TopicSpec InventoryPoolCommandsChangelog { get; } = new(
        "fulfillment-inventory-pool-commands-changelog", PoolPartitions, "state store key, written to the owning task's partition",
        ValueSchema: null, RetentionIntent.Compacted, PoolGroup);

    /// <summary>Changelog of the inventory pool processor's <c>sequence</c> store.</summary>
    public static TopicSpec InventoryPoolSequenceChangelog { get; } = new(
        "fulfillment-inventory-pool-sequence-changelog", PoolPartitions, "state store key, written to the owning task's partition",
        ValueSchema: null, RetentionIntent.Compacted, PoolGroup);

    /// <summary>Changelog of the inventory pool processor's <c>snapshots</c> store (compact pool state, in parts).</summary>
    public static TopicSpec InventoryPoolSnapshotsChangelog { get; } = new(
        "fulfillment-inventory-pool-snapshots-changelog", PoolPartitions, "state store key, written to the owning task's partition",
        ValueSchema: null, RetentionIntent.Compacted, PoolGroup);

    /// <summary>Carrier tracking updates, normalised.</summary>
    public static TopicSpec Tracking { get; } = new(
        "fulfillment.tracking", PoolPartitions, "carrier + \":\" + tracking number (UTF-8 string)",
        "Fulfillment.Schemas.Tracking.TrackingEvent", RetentionIntent.Time, CoPartitionGroup: null);

    /// <summary>Outcomes of pushes to channel APIs (tracking, status, stock); kept forever as the audit of side effects
    /// the hub caused outside itself, which replay cannot re-derive.</summary>
    public static TopicSpec ChannelPushOutcomes { get; } = new(
        "fulfillment.channel-push-outcomes", PoolPartitions, PoolKey,
        "Fulfillment.Schemas.ChannelPush.ChannelPushOutcome", RetentionIntent.Forever, CoPartitionGroup: null);

    /// <summary>Records a worker could not process, with the reason; bad input never disappears (decision 7).</summary>
    public static TopicSpec DeadLetters { get; } = new(
        "fulfillment.dead-letters", PoolPartitions, "the failed record's key, as received",
        "Fulfillment.Schemas.DeadLetters.DeadLetter", RetentionIntent.Forever, CoPartitionGroup: null);

    /// <summary>All topics, in a stable order.</summary>
    public static IReadOnlyList<TopicSpec> All { get; } =
    [
        RawIngest,
        Orders,
        StockMovements,
        Shipments,
        OperatorCommands,
        Allocations,
        StockLevels,
        InventoryPoolCommandsChangelog,
        InventoryPoolSequenceChangelog,
        InventoryPoolSnapshotsChangelog,
        Tracking,
        ChannelPushOutcomes,
        DeadLetters,
    ];

    /// <summary>The topic with this name.</summary>
    /// <exception cref="KeyNotFoundException">The catalog has no such topic.</exception>
    public static TopicSpec Get(string name) =>
        All.FirstOrDefault(t => t.Name == name) ?? throw new KeyNotFoundException($"Topic '{name}' is not in the catalog.");

    /// <summary>The generated C# type of the topic's value, or null for a raw-bytes topic.</summary>
    public static Type? ValueTypeOf(TopicSpec topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        return topic.ValueSchema is null
            ? null
            : typeof(TopicCatalog).Assembly.GetType(topic.ValueSchema, throwOnError: true);
    }

    /// <summary>Every broken invariant of the catalog itself (empty when valid); see <see cref="Validate(IEnumerable{TopicSpec})"/>.</summary>
    public static IReadOnlyList<string> Validate() => Validate(All);

    /// <summary>Every broken invariant of <paramref name="topics"/> (empty when valid): unique names, valid Kafka topic
    /// names, positive partition counts, one partition count per co-partition group.</summary>
    public static IReadOnlyList<string> Validate(IEnumerable<TopicSpec> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var list = topics.ToList();
        var problems = new List<string>();

        foreach (var duplicate in list.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"topic '{duplicate.Key}' is listed {duplicate.Count()} times");
        }

        // Kafka folds '.' and '_' together in metric names: two topics differing only there collide.
        foreach (var collision in list.Select(t => t.Name).Distinct(StringComparer.Ordinal)
                     .GroupBy(n => n.Replace('.', '_'), StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"topics {string.Join(" and ", collision.Select(n => $"'{n}'"))} collide ('.' and '_' are the same in Kafka metric names)");
        }

        foreach (var topic in list)
        {
            if (!IsValidTopicName(topic.Name))
            {
                problems.Add($"topic '{topic.Name}' is not a valid Kafka topic name (1-249 characters of [a-zA-Z0-9._-], not '.' or '..')");
            }

            if (topic.Partitions < 1)
            {
                problems.Add($"topic '{topic.Name}' has {topic.Partitions} partitions; it needs at least 1");
            }

            if (string.IsNullOrWhiteSpace(topic.Key))
            {
                problems.Add($"topic '{topic.Name}' does not say what its key is");
            }
        }

        foreach (var group in list.Where(t => t.CoPartitionGroup is not null).GroupBy(t => t.CoPartitionGroup!, StringComparer.Ordinal))
        {
            var counts = group.Select(t => t.Partitions).Distinct().ToList();
            if (counts.Count > 1)
            {
                var detail = string.Join(", ", group.Select(t => $"{t.Name}={t.Partitions}"));
                problems.Add($"co-partition group '{group.Key}' mixes partition counts ({detail}); co-partitioned topics need the same count");
            }
        }

        return problems;
    }

    /// <summary>Kafka's own rule (org.apache.kafka.common.internals.Topic): 1 to 249 characters of ASCII letters,
    /// digits, '.', '_' and '-', and neither "." nor "..".</summary>
    public static bool IsValidTopicName(string name) =>
        name is not null and not "." and not ".." && name.Length <= 249 && TopicNamePattern().IsMatch(name);

    [GeneratedRegex("^[a-zA-Z0-9._-]+$")]
    private static partial Regex TopicNamePattern();
}
