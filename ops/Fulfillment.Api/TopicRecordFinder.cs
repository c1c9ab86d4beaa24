using Confluent.Kafka;
using Fulfillment.Hosting;
using Microsoft.Extensions.Options;

namespace Fulfillment.Api;

/// <summary>
/// Answers "is this exact record already on the topic?" for a stored command whose produce may have happened before the
/// process died (the broker acknowledged, the API was killed before it marked the command produced). Producing it again
/// would put the command on the topic twice; the inventory processor would then refuse the second copy as a repeat.
/// Reads every partition from the first offset at or after the record's timestamp (its CreateTime is the stored one) to
/// the high watermark and compares value bytes; the development broker answers -1 to every timestamp lookup
/// (facts/kafka-dev-broker.md), and then the partitions are read from their low watermark.
/// </summary>
public sealed partial class TopicRecordFinder(IOptions<KafkaOptions> kafka, ILogger<TopicRecordFinder> logger)
{
    /// <summary>How long one search may take before it gives up (and the caller produces: a repeat is refused
    /// downstream, a command never produced would be lost).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <returns>True when a record with exactly these value bytes is on the topic; false when it is not, or the search
    /// could not finish within <see cref="Timeout"/>.</returns>
    public bool Contains(string topic, byte[] value, long timestampMs, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(value);
        var config = new ConsumerConfig
        {
            BootstrapServers = kafka.Value.BootstrapServers,
            // Assigned partitions only; the group id is never joined or committed to.
            GroupId = "api-produce-check",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = true,
        };
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var timeout = TimeSpan.FromSeconds(10);
        var partitions = admin.GetMetadata(topic, timeout).Topics.SelectMany(t => t.Partitions)
            .Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        var byTime = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(timestampMs, TimestampType.CreateTime))), timeout);
        // A broker that answers timestamp lookups gives -1 only where no record is that new; one that never answers
        // gives -1 everywhere, and then nothing can be skipped.
        var lookupWorks = byTime.Any(o => o.Offset.Value >= 0);
        var starts = new List<TopicPartitionOffset>();
        var ends = new Dictionary<Partition, long>();
        foreach (var p in partitions)
        {
            var marks = consumer.QueryWatermarkOffsets(p, timeout);
            var found = byTime.FirstOrDefault(o => o.Partition == p.Partition)?.Offset.Value ?? -1;
            var start = found >= 0 ? Math.Max(found, marks.Low.Value) : lookupWorks ? marks.High.Value : marks.Low.Value;
            if (start < marks.High.Value)
            {
                starts.Add(new TopicPartitionOffset(p, new Offset(start)));
                ends[p.Partition] = marks.High.Value;
            }
        }

        if (starts.Count == 0)
        {
            return false;
        }

        consumer.Assign(starts);
        var deadline = DateTime.UtcNow + Timeout;
        var read = 0L;
        while (ends.Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                LogGaveUp(logger, topic, read, Timeout.TotalSeconds);
                return false;
            }

            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            ct.ThrowIfCancellationRequested();
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                ends.Remove(result.Partition);
                continue;
            }

            read++;
            if (result.Message.Value is { } bytes && bytes.AsSpan().SequenceEqual(value))
            {
                return true;
            }

            if (ends.TryGetValue(result.Partition, out var end) && result.Offset.Value + 1 >= end)
            {
                ends.Remove(result.Partition);
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Searching {Topic} for a stored command gave up after {Records} records and {Seconds} s; producing it (a repeat is refused downstream)")]
    private static partial void LogGaveUp(ILogger logger, string topic, long records, double seconds);
}
