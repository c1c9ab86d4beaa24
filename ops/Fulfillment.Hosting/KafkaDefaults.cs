using Confluent.Kafka;

namespace Fulfillment.Hosting;

/// <summary>Client settings every process shares, so keys land on the same partition whoever produces them
/// and nothing is silently lost or reordered.</summary>
public static class KafkaDefaults
{
    /// <summary>Idempotent, lz4-compressed producer with Java's murmur2 partitioner.</summary>
    public static ProducerConfig Producer(string bootstrapServers, string? clientId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        return new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = clientId,
            // Idempotence gives acks=all and per-partition ordering across retries.
            EnableIdempotence = true,
            Acks = Acks.All,
            // lz4 raises how many records fit under the development broker's 5 MiB per-partition cap (facts/kafka-dev-broker.md)
            // and is the cheapest codec on the CPU.
            CompressionType = CompressionType.Lz4,
            // librdkafka's default (CRC32) disagrees with Java clients and Kafka Streams on where a key lives;
            // co-partitioned joins across our topics and other clients' topics need murmur2 (ARCHITECTURE.md decision 1).
            Partitioner = Partitioner.Murmur2Random,
            LingerMs = 5,
        };
    }

    /// <summary>Manually committed consumer that fails loudly instead of skipping when its position falls out of retention.</summary>
    public static ConsumerConfig Consumer(string bootstrapServers, string groupId, string? clientId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentException.ThrowIfNullOrWhiteSpace(groupId);
        return new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            ClientId = clientId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            // 'earliest'/'latest' would silently skip records the broker dropped; 'error' surfaces it as a consume error.
            // New groups start from the beginning via explicit assignment/seek by the caller where that is intended.
            AutoOffsetReset = AutoOffsetReset.Error,
            IsolationLevel = IsolationLevel.ReadCommitted,
            // Eager range keeps same-numbered partitions of co-partitioned topics on one member (facts/stream-runtime.md).
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
            EnablePartitionEof = false,
        };
    }
}
