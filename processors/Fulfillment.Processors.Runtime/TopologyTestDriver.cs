using Fulfillment.Processors.Runtime.State;

namespace Fulfillment.Processors.Runtime;

/// <summary>
/// Runs a topology in memory with a controllable clock, like Kafka Streams' TopologyTestDriver: no broker, every piped
/// record is processed and committed at once. Records are partitioned as the broker would (murmur2 of the key over
/// <see cref="Partitions"/>) and get per-partition offsets from 0, so event ids match a run on Kafka fed the same
/// records in the same per-partition order.
/// </summary>
public sealed class TopologyTestDriver : IDisposable
{
    private readonly Topology _topology;
    private readonly ManualClock _clock;
    private readonly StreamTask[] _tasks;
    private readonly Dictionary<(string Topic, int Partition), long> _offsets = [];
    private readonly Dictionary<string, List<OutputRecord>> _outputs = new(StringComparer.Ordinal);

    public TopologyTestDriver(Topology topology, int partitions = 1, DateTimeOffset? startTime = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        _topology = topology;
        Partitions = partitions;
        _clock = new ManualClock(startTime ?? DateTimeOffset.UnixEpoch);
        _tasks = [.. Enumerable.Range(0, partitions).Select(p =>
            new StreamTask(topology, p, new InMemoryTaskStorage(topology.Stores.Count), Collect, _clock))];
    }

    public int Partitions { get; }

    /// <summary>The driver's wall clock (what <see cref="ProcessorContext.WallClockTime"/> returns).</summary>
    public DateTimeOffset WallClockTime => _clock.GetUtcNow();

    /// <summary>Processes a typed record; the timestamp defaults to the wall clock.</summary>
    public void Pipe<TKey, TValue>(InputHandle<TKey, TValue> input, TKey key, TValue value, DateTimeOffset? timestamp = null, IReadOnlyList<RecordHeader>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        PipeRaw(input.Topic, input.KeySerde.Serialize(key), input.ValueSerde.Serialize(value), timestamp, headers);
    }

    /// <summary>Processes a record given as bytes (e.g. one that does not deserialize). A null key goes to partition 0.</summary>
    public void PipeRaw(string topic, byte[]? key, byte[]? value, DateTimeOffset? timestamp = null, IReadOnlyList<RecordHeader>? headers = null, int? partition = null)
    {
        var input = _topology.Inputs.FirstOrDefault(i => i.Topic == topic)
            ?? throw new ArgumentException($"'{topic}' is not an input of '{_topology.ApplicationId}'.", nameof(topic));
        var p = partition ?? (key is null ? 0 : Murmur2.Partition(key, Partitions));
        _offsets.TryGetValue((topic, p), out var offset);
        _offsets[(topic, p)] = offset + 1;
        var task = _tasks[p];
        task.Process(input, new RawRecord(topic, p, offset, (timestamp ?? WallClockTime).ToUnixTimeMilliseconds(), key, value, headers ?? []));
        Commit(task);
    }

    /// <summary>Moves the wall clock forward and fires due wall-clock punctuators (once per task per call, as a poll loop would).</summary>
    public void AdvanceWallClock(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        _clock.Advance(by);
        foreach (var task in _tasks)
        {
            task.PunctuateWallClock(WallClockTime);
            Commit(task);
        }
    }

    /// <summary>Takes (and forgets) everything forwarded to <paramref name="topic"/> so far.</summary>
    public IReadOnlyList<OutputRecord> ReadOutput(string topic)
    {
        if (!_outputs.Remove(topic, out var records))
        {
            return [];
        }

        return records;
    }

    /// <summary>Takes everything forwarded to a typed output so far, deserialized.</summary>
    public IReadOnlyList<KeyValuePair<TKey, TValue>> ReadOutput<TKey, TValue>(OutputHandle<TKey, TValue> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return [.. ReadOutput(output.Topic).Select(r =>
            new KeyValuePair<TKey, TValue>(output.KeySerde.Deserialize(r.Key), output.ValueSerde.Deserialize(r.Value)))];
    }

    /// <summary>A store's committed contents across all partitions, in partition then key order.</summary>
    public IReadOnlyList<KeyValuePair<TKey, TValue>> ReadStore<TKey, TValue>(StoreHandle<TKey, TValue> store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return [.. _tasks.SelectMany(t => t.Storage.All(store.Index)).Select(p =>
            new KeyValuePair<TKey, TValue>(store.KeySerde.Deserialize(p.Key), store.ValueSerde.Deserialize(p.Value)))];
    }

    /// <summary>The stream time of a partition's task.</summary>
    public DateTimeOffset StreamTime(int partition = 0) => _tasks[partition].Context.StreamTime;

    private void Collect(OutputRecord record)
    {
        if (!_outputs.TryGetValue(record.Topic, out var list))
        {
            list = [];
            _outputs[record.Topic] = list;
        }

        list.Add(record);
    }

    private static void Commit(StreamTask task)
    {
        if (task.HasUncommitted)
        {
            task.CompleteCommit(task.PrepareCommit(), null);
        }
    }

    public void Dispose()
    {
        foreach (var task in _tasks)
        {
            task.Dispose();
        }
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
