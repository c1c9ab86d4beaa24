using System.Diagnostics;
using System.Globalization;
using System.Text;
using Fulfillment.Processors.Runtime.State;
using Prometheus;

namespace Fulfillment.Processors.Runtime;

/// <summary>Writes and checkpoint of one task's commit, and the id that ties its changelog records to its marker.</summary>
internal sealed record CommitBatch(
    int Partition,
    Guid CommitId,
    long Sequence,
    IReadOnlyList<IReadOnlyList<StoreWrite>> Writes,
    TaskCheckpoint Checkpoint);

/// <summary>
/// One task = one partition number of the co-partitioned inputs. Broker-free: the Kafka runtime and the test driver
/// both feed it records and decide when to commit. Processing is single-threaded per task.
/// </summary>
internal sealed class StreamTask : ITaskStorageAccessor, IDisposable
{
    private readonly StoreCache[] _caches;
    private readonly object?[] _storeViews;
    private readonly Action<OutputRecord> _sink;
    private readonly List<OutputRecord> _pendingOutputs = [];
    private readonly Dictionary<string, long> _nextOffsets = new(StringComparer.Ordinal);
    private readonly DateTimeOffset[] _nextWallClock;
    private readonly Counter.Child[] _recordsIn;
    private readonly Dictionary<string, Counter.Child> _recordsOut = new(StringComparer.Ordinal);
    private readonly Histogram.Child _processingLatency;
    private readonly Histogram.Child _eventAge;
    // Where the current outputs come from: an input record, or a punctuator and its time. The event-id prefix is built
    // only when the first output asks for it (most records of most topologies emit few outputs, some none).
    private RawRecord? _originRecord;
    private string? _originPunctuator;
    private long _originTimeMs;
    private string? _origin;
    private byte[]? _originPrefix;
    private int _outputIndex;
    private long? _currentInputTimestampMs;
    private bool _uncommitted;

    public StreamTask(Topology topology, int partition, ITaskStorage storage, Action<OutputRecord> sink, TimeProvider clock)
    {
        Topology = topology;
        Partition = partition;
        Storage = storage;
        _sink = sink;
        Clock = clock;
        Context = new ProcessorContext(this);
        _caches = [.. topology.Stores.Select(s => new StoreCache(s.Index, this))];
        _storeViews = new object?[topology.Stores.Count];
        var now = clock.GetUtcNow();
        _nextWallClock = [.. topology.Punctuators.Select(p => now + p.Interval)];
        var app = topology.ApplicationId;
        _recordsIn = [.. topology.Inputs.Select(i => RuntimeMetrics.RecordsIn.WithLabels(app, i.Topic))];
        _processingLatency = RuntimeMetrics.ProcessingLatency.WithLabels(app);
        _eventAge = RuntimeMetrics.EventAgeAtOutput.WithLabels(app);
        LoadCheckpoint();
    }

    public Topology Topology { get; }

    public int Partition { get; }

    public ITaskStorage Storage { get; private set; }

    public TimeProvider Clock { get; }

    public ProcessorContext Context { get; }

    public long StreamTimeMs { get; private set; } = long.MinValue;

    public long CommitSequence { get; private set; }

    public DateTimeOffset CurrentTimestamp { get; private set; }

    /// <summary>True when records were processed (or punctuations ran) since the last commit.</summary>
    public bool HasUncommitted => _uncommitted;

    /// <summary>Next offset to process per input topic, as far as this task's state reflects; null when unknown.</summary>
    public long? NextOffset(string topic) => _nextOffsets.TryGetValue(topic, out var offset) ? offset : null;

    /// <summary>Re-reads offsets, stream time and sequence from storage (after a restore or a rebuild).</summary>
    public void LoadCheckpoint()
    {
        _nextOffsets.Clear();
        var checkpoint = Storage.ReadCheckpoint();
        if (checkpoint is not null)
        {
            foreach (var (topic, offset) in checkpoint.InputOffsets)
            {
                _nextOffsets[topic] = offset;
            }

            StreamTimeMs = checkpoint.StreamTimeMs;
            CommitSequence = checkpoint.CommitSequence;
        }
        else
        {
            StreamTimeMs = long.MinValue;
            CommitSequence = 0;
        }

        foreach (var cache in _caches)
        {
            cache.Reset();
        }

        _uncommitted = false;
    }

    /// <summary>Replaces the storage (a wiped or rebuilt one) and reloads from it.</summary>
    public void ReplaceStorage(ITaskStorage storage)
    {
        Storage = storage;
        LoadCheckpoint();
    }

    /// <summary>Seeds the next offset of an input that the checkpoint does not cover (stateless topologies: the group's commit).</summary>
    public void SeedOffset(string topic, long offset) => _nextOffsets.TryAdd(topic, offset);

    public IKeyValueStore<TKey, TValue> GetStore<TKey, TValue>(StoreHandle<TKey, TValue> handle)
    {
        if (handle.Index >= _caches.Length || Topology.Stores[handle.Index].Name != handle.Name)
        {
            throw new InvalidOperationException($"Store '{handle.Name}' does not belong to topology '{Topology.ApplicationId}'.");
        }

        return (IKeyValueStore<TKey, TValue>)(_storeViews[handle.Index] ??= new KeyValueStore<TKey, TValue>(_caches[handle.Index], handle));
    }

    /// <summary>Processes one record of input <paramref name="input"/>. Never throws for a bad record: it is
    /// dead-lettered with the reason and the partition moves on.</summary>
    public void Process(InputDefinition input, RawRecord record)
    {
        var started = Stopwatch.GetTimestamp();
        var previousStreamTime = StreamTimeMs;
        if (record.TimestampMs > StreamTimeMs)
        {
            StreamTimeMs = record.TimestampMs;
        }

        SetOrigin(record, null, 0);
        _outputIndex = 0;
        CurrentTimestamp = DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampMs);
        _currentInputTimestampMs = record.TimestampMs;
        try
        {
            input.Dispatch(Context, record);
            AcceptPending();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RejectPending();
            DeadLetter(record, ex is DeserializationException ? "deserialization" : "handler", ex is DeserializationException d ? d.InnerException ?? d : ex);
        }
        finally
        {
            _currentInputTimestampMs = null;
        }

        _nextOffsets[record.Topic] = record.Offset + 1;
        _uncommitted = true;
        _recordsIn[input.Index].Inc();
        _processingLatency.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        PunctuateStreamTime(previousStreamTime);
    }

    /// <summary>Fires stream-time punctuators whose interval boundary the stream time crossed. The boundary is a pure
    /// function of stream time, so a replay from any checkpoint fires the same punctuations at the same times.</summary>
    private void PunctuateStreamTime(long previousStreamTime)
    {
        if (previousStreamTime == long.MinValue)
        {
            return;
        }

        foreach (var punctuator in Topology.Punctuators)
        {
            if (punctuator.Type != PunctuationType.StreamTime)
            {
                continue;
            }

            var interval = (long)punctuator.Interval.TotalMilliseconds;
            var boundary = Math.DivRem(StreamTimeMs, interval).Quotient * interval;
            if (boundary > previousStreamTime)
            {
                RunPunctuator(punctuator, DateTimeOffset.FromUnixTimeMilliseconds(boundary));
            }
        }
    }

    /// <summary>Fires wall-clock punctuators that are due at <paramref name="now"/>.</summary>
    public void PunctuateWallClock(DateTimeOffset now)
    {
        foreach (var punctuator in Topology.Punctuators)
        {
            if (punctuator.Type == PunctuationType.WallClock && now >= _nextWallClock[punctuator.Index])
            {
                _nextWallClock[punctuator.Index] = now + punctuator.Interval;
                RunPunctuator(punctuator, now);
            }
        }
    }

    /// <summary>Earliest wall-clock punctuation due, so the poll loop can sleep until then instead of spinning.</summary>
    public DateTimeOffset? NextWallClockPunctuation =>
        _nextWallClock.Length == 0 ? null : Topology.Punctuators.Where(p => p.Type == PunctuationType.WallClock)
            .Select(p => (DateTimeOffset?)_nextWallClock[p.Index]).Min();

    private void RunPunctuator(PunctuatorDefinition punctuator, DateTimeOffset time)
    {
        SetOrigin(null, punctuator.Name, time.ToUnixTimeMilliseconds());
        _outputIndex = 0;
        CurrentTimestamp = time;
        try
        {
            punctuator.Callback(Context, time);
            AcceptPending();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // No input record to dead-letter: drop the punctuation's effects, count it, let the caller's logs show it.
            RejectPending();
            RuntimeMetrics.DeadLetters.WithLabels(Topology.ApplicationId, "punctuator").Inc();
            LastPunctuatorError = ex;
        }

        _uncommitted = true;
    }

    /// <summary>The last exception a punctuator threw (for the host's logs).</summary>
    public Exception? LastPunctuatorError { get; set; }

    private void SetOrigin(RawRecord? record, string? punctuator, long timeMs)
    {
        _originRecord = record;
        _originPunctuator = punctuator;
        _originTimeMs = timeMs;
        _origin = null;
        _originPrefix = null;
    }

    /// <summary><c>{topic}-{partition}@{offset}</c> or <c>{app}-{partition}/{punctuator}@{epochMs}</c>.</summary>
    private string Origin => _origin ??= _originRecord is { } r
        ? string.Create(CultureInfo.InvariantCulture, $"{r.Topic}-{r.Partition}@{r.Offset}")
        : string.Create(CultureInfo.InvariantCulture, $"{Topology.ApplicationId}-{Partition}/{_originPunctuator}@{_originTimeMs}");

    /// <summary>The next output's event id, <c>{origin}#{n}</c>, as the UTF-8 header value.</summary>
    public byte[] NextEventIdBytes()
    {
        var prefix = _originPrefix ??= Encoding.UTF8.GetBytes(Origin + "#");
        Span<byte> digits = stackalloc byte[11];
        _outputIndex++.TryFormat(digits, out var length, default, CultureInfo.InvariantCulture);
        var id = new byte[prefix.Length + length];
        prefix.CopyTo(id, 0);
        digits[..length].CopyTo(id.AsSpan(prefix.Length));
        return id;
    }

    public void Emit(OutputRecord record) => _pendingOutputs.Add(record);

    private void AcceptPending()
    {
        foreach (var cache in _caches)
        {
            cache.AcceptPending();
        }

        if (_pendingOutputs.Count == 0)
        {
            return;
        }

        var now = Clock.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var output in _pendingOutputs)
        {
            _sink(output);
            if (!_recordsOut.TryGetValue(output.Topic, out var counter))
            {
                counter = RuntimeMetrics.RecordsOut.WithLabels(Topology.ApplicationId, output.Topic);
                _recordsOut[output.Topic] = counter;
            }

            counter.Inc();
            if (_currentInputTimestampMs is { } ts)
            {
                _eventAge.Observe(Math.Max(0, now - ts) / 1000.0);
            }
        }

        _pendingOutputs.Clear();
    }

    private void RejectPending()
    {
        foreach (var cache in _caches)
        {
            cache.RejectPending();
        }

        _pendingOutputs.Clear();
    }

    private void DeadLetter(RawRecord record, string reason, Exception error)
    {
        var headers = new List<RecordHeader>(record.Headers.Count + 6);
        headers.AddRange(record.Headers.Where(h => h.Key != RuntimeHeaders.EventId));
        var message = $"{error.GetType().FullName}: {error.Message}";
        if (message.Length > 2000)
        {
            message = message[..2000];
        }

        headers.Add(new RecordHeader(RuntimeHeaders.DeadLetterReason, Encoding.UTF8.GetBytes(reason)));
        headers.Add(new RecordHeader(RuntimeHeaders.DeadLetterException, Encoding.UTF8.GetBytes(message)));
        headers.Add(new RecordHeader(RuntimeHeaders.DeadLetterSourceTopic, Encoding.UTF8.GetBytes(record.Topic)));
        headers.Add(new RecordHeader(RuntimeHeaders.DeadLetterSourcePartition, Encoding.UTF8.GetBytes(record.Partition.ToString(CultureInfo.InvariantCulture))));
        headers.Add(new RecordHeader(RuntimeHeaders.DeadLetterSourceOffset, Encoding.UTF8.GetBytes(record.Offset.ToString(CultureInfo.InvariantCulture))));
        headers.Add(new RecordHeader(RuntimeHeaders.EventId, Encoding.UTF8.GetBytes(Origin + "#dlq")));
        _sink(new OutputRecord(Topology.DeadLetterTopic, record.Key, record.Value, headers, CurrentTimestamp));
        RuntimeMetrics.DeadLetters.WithLabels(Topology.ApplicationId, reason).Inc();
        LastDeadLetter = (record, reason, error);
    }

    /// <summary>The last dead-lettered record (for the host's logs).</summary>
    public (RawRecord Record, string Reason, Exception Error)? LastDeadLetter { get; set; }

    /// <summary>Seals what a commit must make durable: the writes since the last commit move to the stores' in-flight
    /// layer (still readable) and records processed from now on belong to the next commit. Complete it with
    /// <see cref="WriteLocal"/> then <see cref="EndCommit"/> (or <see cref="CompleteCommit"/>).</summary>
    public CommitBatch PrepareCommit()
    {
        var checkpoint = new TaskCheckpoint(
            new Dictionary<string, long>(_nextOffsets, StringComparer.Ordinal),
            Storage.ReadCheckpoint()?.ChangelogPositions ?? new Dictionary<string, long>(),
            StreamTimeMs,
            CommitSequence + 1);
        var writes = new IReadOnlyList<StoreWrite>[_caches.Length];
        for (var s = 0; s < _caches.Length; s++)
        {
            writes[s] = _caches[s].BeginCommit();
        }

        _uncommitted = false;
        return new CommitBatch(Partition, Guid.NewGuid(), CommitSequence + 1, writes, checkpoint);
    }

    /// <summary>Writes the batch and its checkpoint to local storage in one atomic write, once its outputs and changelog
    /// records are on the broker. Safe on another thread while this task keeps processing: it touches only storage,
    /// which the stores read through the in-flight layer until <see cref="EndCommit"/>.</summary>
    public void WriteLocal(CommitBatch batch, IReadOnlyDictionary<string, long>? changelogPositions)
    {
        var checkpoint = changelogPositions is null ? batch.Checkpoint : batch.Checkpoint with { ChangelogPositions = changelogPositions };
        Storage.Write(batch.Writes, checkpoint);
    }

    /// <summary>The batch is in local storage: drop the in-flight layer (processing thread).</summary>
    public void EndCommit(CommitBatch batch)
    {
        CommitSequence = batch.Sequence;
        foreach (var cache in _caches)
        {
            cache.EndCommit();
        }
    }

    /// <summary>Makes the batch durable locally and ends it (the synchronous path of the test driver and of transactions).</summary>
    public void CompleteCommit(CommitBatch batch, IReadOnlyDictionary<string, long>? changelogPositions)
    {
        WriteLocal(batch, changelogPositions);
        EndCommit(batch);
    }

    public void Dispose() => Storage.Dispose();
}
