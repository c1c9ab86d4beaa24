namespace Fulfillment.Processors.Runtime;

/// <summary>
/// What a handler or punctuator may use: this task's stores, stream time, and <c>Forward</c> for its outputs.
/// Every forwarded record gets an <c>event-id</c> header derived from where it came from (input topic, partition, offset
/// and the output's index within that record, or the punctuator and its scheduled time), unless the handler sets one:
/// reprocessing after a crash re-emits the same ids, which is what lets consumers dedupe (effectively-once).
/// </summary>
public sealed class ProcessorContext
{
    private readonly StreamTask _task;

    internal ProcessorContext(StreamTask task) => _task = task;

    /// <summary>The task's partition number (the same for every co-partitioned input).</summary>
    public int Partition => _task.Partition;

    public string ApplicationId => _task.Topology.ApplicationId;

    /// <summary>The largest record timestamp this task has seen; the deterministic notion of "now" for deciders.</summary>
    public DateTimeOffset StreamTime => _task.StreamTimeMs == long.MinValue
        ? DateTimeOffset.UnixEpoch
        : DateTimeOffset.FromUnixTimeMilliseconds(_task.StreamTimeMs);

    /// <summary>The machine clock (controllable in the test driver). Not reproducible on replay: prefer <see cref="StreamTime"/>.</summary>
    public DateTimeOffset WallClockTime => _task.Clock.GetUtcNow();

    public IKeyValueStore<TKey, TValue> Store<TKey, TValue>(StoreHandle<TKey, TValue> store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return _task.GetStore(store);
    }

    /// <summary>Emits a typed record to a declared output topic.</summary>
    public void Forward<TKey, TValue>(OutputHandle<TKey, TValue> output, TKey key, TValue value, IReadOnlyList<RecordHeader>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        Forward(output.Topic, output.KeySerde.Serialize(key), output.ValueSerde.Serialize(value), headers);
    }

    /// <summary>Emits a record (bytes) to a declared output topic. It is partitioned by key (murmur2).</summary>
    public void Forward(string topic, byte[]? key, byte[]? value, IReadOnlyList<RecordHeader>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (!_task.Topology.OutputTopics.Contains(topic))
        {
            throw new InvalidOperationException($"Topic '{topic}' is not a declared output of '{_task.Topology.ApplicationId}'.");
        }

        IReadOnlyList<RecordHeader> all;
        if (headers is null || headers.Count == 0)
        {
            // The common case (one header, the runtime's id): no list to grow.
            all = [new RecordHeader(RuntimeHeaders.EventId, _task.NextEventIdBytes())];
        }
        else
        {
            var list = new List<RecordHeader>(headers.Count + 1);
            list.AddRange(headers);
            if (RuntimeHeaders.Find(list, RuntimeHeaders.EventId) is null)
            {
                list.Add(new RecordHeader(RuntimeHeaders.EventId, _task.NextEventIdBytes()));
            }

            all = list;
        }

        _task.Emit(new OutputRecord(topic, key, value, all, _task.CurrentTimestamp));
    }
}
