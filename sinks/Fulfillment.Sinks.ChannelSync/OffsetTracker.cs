using Confluent.Kafka;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Tracks records handled out of order (pushes run concurrently) and says how far each partition may be
/// committed: up to, not past, the oldest record still in flight, so a restart never skips an unfinished push.</summary>
public sealed class OffsetTracker
{
    private readonly Dictionary<TopicPartition, SortedSet<long>> _inFlight = [];
    private readonly Dictionary<TopicPartition, long> _next = [];
    private readonly Lock _lock = new();

    public void Start(TopicPartitionOffset record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_lock)
        {
            if (!_inFlight.TryGetValue(record.TopicPartition, out var set))
            {
                _inFlight[record.TopicPartition] = set = [];
            }

            set.Add(record.Offset.Value);
            _next[record.TopicPartition] = Math.Max(_next.GetValueOrDefault(record.TopicPartition), record.Offset.Value + 1);
        }
    }

    public void Complete(TopicPartitionOffset record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_lock)
        {
            _inFlight.GetValueOrDefault(record.TopicPartition)?.Remove(record.Offset.Value);
        }
    }

    /// <summary>The offsets safe to commit now.</summary>
    public IReadOnlyList<TopicPartitionOffset> Committable()
    {
        lock (_lock)
        {
            return [.. _next.Select(kv => new TopicPartitionOffset(kv.Key,
                _inFlight.TryGetValue(kv.Key, out var set) && set.Count > 0 ? set.Min : kv.Value))];
        }
    }

    public void Forget(IEnumerable<TopicPartition> revoked)
    {
        lock (_lock)
        {
            foreach (var tp in revoked)
            {
                _inFlight.Remove(tp);
                _next.Remove(tp);
            }
        }
    }
}
