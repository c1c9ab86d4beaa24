using Confluent.Kafka;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>A record being handled, tagged with its partition's assignment epoch.</summary>
public readonly record struct RecordTicket(string Topic, int Partition, long Offset, long Epoch)
{
    public TopicPartition TopicPartition => new(Topic, Partition);
}

/// <summary>Tracks records handled out of order (pushes run concurrently) and says how far each partition may be
/// committed: up to, not past, the oldest record still in flight, so a restart never skips an unfinished push.
/// A revoked partition starts a new epoch: a push that was running before the revocation and finishes after the
/// partition came back (and its records were read again) cannot mark the re-read copy of its record as done.</summary>
public sealed class OffsetTracker
{
    private readonly Dictionary<TopicPartition, SortedSet<long>> _inFlight = [];
    private readonly Dictionary<TopicPartition, long> _next = [];
    private readonly Dictionary<TopicPartition, long> _epochs = [];
    private readonly Lock _lock = new();

    public RecordTicket Start(TopicPartitionOffset record)
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
            return new RecordTicket(record.Topic, record.Partition.Value, record.Offset.Value, _epochs.GetValueOrDefault(record.TopicPartition));
        }
    }

    public void Complete(RecordTicket record)
    {
        lock (_lock)
        {
            if (_epochs.GetValueOrDefault(record.TopicPartition) == record.Epoch)
            {
                _inFlight.GetValueOrDefault(record.TopicPartition)?.Remove(record.Offset);
            }
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
                _epochs[tp] = _epochs.GetValueOrDefault(tp) + 1;
            }
        }
    }
}
