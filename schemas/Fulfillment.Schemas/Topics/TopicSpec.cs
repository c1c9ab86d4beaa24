namespace Fulfillment.Schemas.Topics;

/// <summary>How a topic's data is meant to be kept. The development broker keeps everything in memory with a size cap
/// and no compaction (facts/kafka-dev-broker.md); production applies these as topic configs.</summary>
public enum RetentionIntent
{
    /// <summary>Kept forever: raw deliveries and operator commands are the audit and replay source.</summary>
    Forever,
    /// <summary>Time-bounded event stream.</summary>
    Time,
    /// <summary>Compacted by key: changelogs and latest-state topics.</summary>
    Compacted,
}

/// <summary>One entry of the topic catalog.</summary>
/// <param name="Name">Topic name.</param>
/// <param name="Partitions">Partition count; every topic in a co-partition group has the same count.</param>
/// <param name="Key">What the record key is (e.g. "pool id").</param>
/// <param name="ValueSchema">Full Avro name of the value schema, or null for raw bytes.</param>
/// <param name="Retention">Retention / cleanup intent.</param>
/// <param name="CoPartitionGroup">Topics in one group are co-partitioned (same count, same key, murmur2), or null.</param>
public sealed record TopicSpec(
    string Name,
    int Partitions,
    string Key,
    string? ValueSchema,
    RetentionIntent Retention,
    string? CoPartitionGroup);
