using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Fulfillment.Processors.Runtime.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fulfillment.Processors.Runtime;

/// <summary>
/// Runs a <see cref="Topology"/> against Kafka: one consumer-group member, one poll thread, one task per partition
/// number of the co-partitioned inputs; with <see cref="StreamRuntimeOptions.ProcessingThreads"/> above one, the
/// buffered records of different tasks are processed in parallel between polls (each task by one thread at a time).
/// <para>Group membership is the classic protocol with the eager <c>range</c> assignor. Why: librdkafka has no
/// pluggable assignor; range is the one that puts partition <c>p</c> of every subscribed topic (same partition counts)
/// on the same member, which co-partitioned tasks need. cooperative-sticky balances topics independently and breaks that;
/// KIP-848 assigns on the broker with an assignor we cannot choose on every broker (the development broker's is not
/// documented to co-locate). The cost is stop-the-world rebalances, which commit on revoke and reopen tasks from local
/// state (cheap) — and takeover after a crash waits for the session timeout, which is configurable.</para>
/// <para>Local state (the task checkpoint written atomically with the data) is the truth for where a task resumes; the
/// group commit is a courtesy for lag tooling.</para>
/// </summary>
public sealed class StreamRuntime
{
    private readonly Topology _topology;
    private readonly StreamRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Dictionary<int, TaskRunner> _runners = [];
    private readonly Dictionary<string, int> _inputIndex;
    private readonly HashSet<TopicPartition> _paused = [];
    private readonly Action<OutputRecord> _sink;
    private readonly ConcurrentDictionary<string, TopicPartition> _outputDestinations = new(StringComparer.Ordinal);
    private readonly ParallelOptions _parallel;
    private readonly List<TaskRunner> _ready = [];
    private Epoch _open;
    private PendingCommit? _inFlight;
    private IConsumer<byte[], byte[]>? _consumer;
    private IConsumer<byte[], byte[]>? _restoreConsumer;
    private IProducer<byte[], byte[]>? _producer;
    private Error? _deliveryError;
    private bool _inTransaction;
    private bool _failed;
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _handlerFailure;
    private bool _eos;
    private int _partitionCount;
    private volatile int[] _assigned = [];

    public StreamRuntime(Topology topology, StreamRuntimeOptions options, ILogger<StreamRuntime>? logger = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(options);
        _topology = topology;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _clock = clock ?? TimeProvider.System;
        _inputIndex = topology.Inputs.ToDictionary(i => i.Topic, i => i.Index, StringComparer.Ordinal);
        _sink = ProduceOutput;
        _open = new Epoch(this);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ProcessingThreads, 1);
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = options.ProcessingThreads };
    }

    /// <summary>Everything produced between two commit seals (outputs and the sealed commit's changelog records), counted
    /// until its delivery reports are in. Reports are served by whichever thread polls the producer (no background
    /// poll): the poll thread, a processing thread after its task's round, or one waiting for room in a full producer queue;
    /// so counts are atomic.</summary>
    private sealed class Epoch
    {
        private int _pending;

        public Epoch(StreamRuntime runtime) =>
            OnDelivery = report =>
            {
                Interlocked.Decrement(ref _pending);
                if (report.Error.IsError)
                {
                    runtime.RecordDeliveryError(report.Error);
                }
            };

        public int Pending => Volatile.Read(ref _pending);

        public void Produced() => Interlocked.Increment(ref _pending);

        public Action<DeliveryReport<byte[], byte[]>> OnDelivery { get; }
    }

    private void RecordDeliveryError(Error error) => Interlocked.CompareExchange(ref _deliveryError, error, null);

    private enum CommitStage
    {
        /// <summary>Waiting for the outputs and changelog records of the commit to be acknowledged.</summary>
        Data,

        /// <summary>Markers produced; waiting for their acknowledgements (and offsets).</summary>
        Markers,

        /// <summary>Writing data + checkpoint to local storage on a background thread.</summary>
        Local,
    }

    /// <summary>A sealed commit on its way to durable (see <see cref="BeginCommit"/>).</summary>
    private sealed class PendingCommit(List<CommitBatch> batches, Epoch data, long started)
    {
        public List<CommitBatch> Batches { get; } = batches;

        public Epoch Data { get; } = data;

        public long Started { get; } = started;

        public CommitStage Stage { get; set; }

        private int _markersPending;

        public int MarkersPending => Volatile.Read(ref _markersPending);

        public void MarkerProduced() => Interlocked.Increment(ref _markersPending);

        /// <summary>A marker's delivery report (any polling thread).</summary>
        public void MarkerDelivered((string Topic, int Partition) key, long? offset)
        {
            if (offset is { } o)
            {
                lock (MarkerOffsets)
                {
                    MarkerOffsets[key] = o;
                }
            }

            Interlocked.Decrement(ref _markersPending);
        }

        /// <summary>Written under its own lock by delivery reports; read once <see cref="MarkersPending"/> is zero.</summary>
        public Dictionary<(string Topic, int Partition), long> MarkerOffsets { get; } = [];

        public Task? LocalWrite { get; set; }
    }

    /// <summary>The guarantee in effect once running (Auto resolved).</summary>
    public ProcessingGuarantee EffectiveGuarantee { get; private set; }

    /// <summary>Partitions (tasks) this worker currently owns; safe to read from any thread.</summary>
    public IReadOnlyList<int> AssignedPartitions => _assigned;

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled (then commits and leaves the group) or a
    /// fatal error occurs (then throws without committing). Runs on its own thread: the poll loop blocks in librdkafka.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancellationToken)
    {
        try
        {
            EffectiveGuarantee = ResolveGuarantee();
            _eos = EffectiveGuarantee == ProcessingGuarantee.ExactlyOnceV2;
            _partitionCount = ValidateTopics();
            RuntimeLog.Starting(_logger, _topology.ApplicationId, _options.InstanceId, EffectiveGuarantee, _partitionCount);
            _producer = BuildProducer();
            // Load native storage code now, not inside the first rebalance callback where it would delay the group.
            _options.StorageFactory.Prepare();
            _restoreConsumer = BuildRestoreConsumer();
            _consumer = BuildConsumer();
            _consumer.Subscribe(_topology.InputTopics);
            Loop(cancellationToken);
            CommitAll();
            _consumer.Close();
            RuntimeLog.Stopped(_logger, _topology.ApplicationId);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _failed = true;
            RuntimeLog.Failed(_logger, ex, _topology.ApplicationId);
            throw;
        }
        finally
        {
            CloseAllTasks();
            if (_failed && _consumer is not null)
            {
                // Leave the group explicitly (callbacks run here, and commit nothing because the run failed): disposing
                // a consumer that is still a member can block in librdkafka's close.
                try
                {
                    _consumer.Close();
                }
                catch (KafkaException)
                {
                    // Already failing; the original exception is what matters.
                }
            }

            _consumer?.Dispose();
            _restoreConsumer?.Dispose();
            _producer?.Dispose();
            _consumer = null;
            _restoreConsumer = null;
            _producer = null;
        }
    }

    private TimeSpan CommitInterval => _options.CommitInterval ?? (_eos ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1));

    private void Loop(CancellationToken cancellationToken)
    {
        var nextCommit = _clock.GetUtcNow() + CommitInterval;
        var moreWork = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var now = _clock.GetUtcNow();
                var timeout = moreWork ? TimeSpan.Zero : PollTimeout(now, nextCommit);
                var result = _consumer!.Consume(timeout);
                _handlerFailure?.Throw();
                for (var n = 0; result is not null; n++)
                {
                    Route(result);
                    if (n >= 2000)
                    {
                        break;
                    }

                    result = _consumer.Consume(TimeSpan.Zero);
                }

                _handlerFailure?.Throw();

                now = _clock.GetUtcNow();
                moreWork = ProcessTasks(now);
                _producer!.Poll(TimeSpan.Zero);
                AdvanceCommit();
                ApplyBackpressure();
                foreach (var runner in _runners.Values)
                {
                    runner.Task.PunctuateWallClock(now);
                    ReportTaskProblems(runner.Task);
                }

                if (now >= nextCommit)
                {
                    CommitAll(wait: false);
                    UpdateLag();
                    nextCommit = now + CommitInterval;
                }
            }
            catch (ConsumeException ex) when (!ex.Error.IsFatal && ex.Error.Code != ErrorCode.Local_AutoOffsetReset)
            {
                RuntimeLog.ConsumeError(_logger, ex.Error.Reason);
            }
            catch (ConsumeException ex)
            {
                throw new StreamRuntimeException(
                    $"Input {ex.ConsumerRecord?.Topic}-{ex.ConsumerRecord?.Partition.Value} is not readable at the stored position " +
                    $"({ex.Error.Code}: {ex.Error.Reason}). Records were lost to retention or the topic was recreated; refusing to skip them.", ex);
            }
            catch (KafkaException ex) when (_eos && IsTransactionFailure(ex))
            {
                RuntimeLog.TransactionFailed(_logger, ex, ex.Error.Reason);
                RecoverFromTransactionFailure(ex);
            }
        }
    }

    private TimeSpan PollTimeout(DateTimeOffset now, DateTimeOffset nextCommit)
    {
        var timeout = _options.PollTimeout;
        if (_inFlight is not null)
        {
            // Delivery reports are served between polls: come back soon to move the commit on.
            timeout = Min(timeout, TimeSpan.FromMilliseconds(5));
        }

        if (_runners.Values.Any(r => r.Task.HasUncommitted))
        {
            timeout = Min(timeout, nextCommit - now);
        }

        foreach (var runner in _runners.Values)
        {
            if (runner.Task.NextWallClockPunctuation is { } due)
            {
                timeout = Min(timeout, due - now);
            }

            if (runner.BlockedSince is { } since)
            {
                timeout = Min(timeout, since + _options.MaxTaskIdle - now);
            }
        }

        return timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout;

        static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
    }

    private void Route(ConsumeResult<byte[], byte[]> result)
    {
        if (!_runners.TryGetValue(result.Partition.Value, out var runner) || !_inputIndex.TryGetValue(result.Topic, out var index))
        {
            return;
        }

        runner.Enqueue(index, new RawRecord(
            result.Topic, result.Partition.Value, result.Offset.Value, result.Message.Timestamp.UnixTimestampMs,
            result.Message.Key, result.Message.Value, ToRecordHeaders(result.Message.Headers)));
        runner.NextFetch[index] = result.Offset.Value + 1;
    }

    private static RecordHeader[] ToRecordHeaders(Headers? headers)
    {
        if (headers is not { Count: > 0 })
        {
            return [];
        }

        var result = new RecordHeader[headers.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new RecordHeader(headers[i].Key, headers[i].GetValueBytes());
        }

        return result;
    }

    /// <summary>Processes buffered records task by task; returns true when records are left for the next round.
    /// With several processing threads, tasks with buffered records are handed out one at a time to the threads (the
    /// poll thread included; the busiest tasks first) and this returns when all are done. A task is only ever processed
    /// by one thread at a time and always in the same record order, so its outputs, state and event ids do not depend
    /// on the thread count; the poll loop (consume, commit, rebalance) does not run meanwhile.</summary>
    private bool ProcessTasks(DateTimeOffset now)
    {
        _ready.Clear();
        foreach (var runner in _runners.Values)
        {
            if (runner.Buffered > 0)
            {
                _ready.Add(runner);
            }
        }

        if (_ready.Count == 0)
        {
            return false;
        }

        if (_options.ProcessingThreads == 1 || _ready.Count == 1)
        {
            var more = false;
            foreach (var runner in _ready)
            {
                more |= ProcessTask(runner, now);
            }

            return more;
        }

        if (_eos && !_inTransaction)
        {
            // Outputs are produced from the processing threads; the transaction must exist before any of them.
            _producer!.BeginTransaction();
            _inTransaction = true;
        }

        _ready.Sort(static (a, b) => b.Buffered.CompareTo(a.Buffered));
        var anyMore = 0;
        try
        {
            Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(_ready, EnumerablePartitionerOptions.NoBuffering), _parallel, runner =>
            {
                if (ProcessTask(runner, now))
                {
                    Volatile.Write(ref anyMore, 1);
                }

                // Serve the delivery reports of what this task produced here, in parallel, instead of leaving them all to
                // the poll thread between rounds, when the other processing threads wait (reports are counted
                // atomically; any thread may serve them).
                _producer!.Poll(TimeSpan.Zero);
            });
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            // Process never throws for a bad record; what arrives here is a runtime failure (storage, producer).
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }

        return anyMore == 1;
    }

    /// <summary>Processes up to a budget of one task's buffered records; true when it stopped at the budget.</summary>
    private bool ProcessTask(TaskRunner runner, DateTimeOffset now)
    {
        runner.BeginRound();
        for (var budget = 1000; budget > 0; budget--)
        {
            var pick = Pick(runner, now);
            if (pick < 0)
            {
                return false;
            }

            runner.Task.Process(_topology.Inputs[pick], runner.Dequeue(pick));
            ReportTaskProblems(runner.Task);
        }

        return true;
    }

    private int Pick(TaskRunner runner, DateTimeOffset now) =>
        runner.Pick(now, _options.MaxTaskIdle, runner.CaughtUpThisRound);

    private bool CaughtUp(TaskRunner runner, int input)
    {
        var watermarks = _consumer!.GetWatermarkOffsets(new TopicPartition(_topology.Inputs[input].Topic, runner.Partition));
        // NextFetch -1 means "from the beginning" (nothing consumed or stored yet): the position is then the low watermark,
        // so an empty partition (low == high) is caught up instead of stalling every record of the task for MaxTaskIdle.
        var position = runner.NextFetch[input] >= 0 ? runner.NextFetch[input] : Math.Max(watermarks.Low.Value, 0);
        return watermarks.High.Value >= 0 && position >= watermarks.High.Value;
    }

    private void ApplyBackpressure()
    {
        var high = _options.MaxBufferedRecordsPerPartition;
        foreach (var runner in _runners.Values)
        {
            for (var i = 0; i < runner.Queues.Length; i++)
            {
                var tp = new TopicPartition(_topology.Inputs[i].Topic, runner.Partition);
                var count = runner.Queues[i].Count;
                if (count >= high && _paused.Add(tp))
                {
                    _consumer!.Pause([tp]);
                }
                else if (count <= high / 2 && _paused.Remove(tp))
                {
                    _consumer!.Resume([tp]);
                }
            }
        }
    }

    private void ReportTaskProblems(StreamTask task)
    {
        if (task.LastDeadLetter is { } dead)
        {
            RuntimeLog.DeadLettered(_logger, dead.Error, dead.Record.Topic, dead.Record.Partition, dead.Record.Offset, dead.Reason);
            task.LastDeadLetter = null;
        }

        if (task.LastPunctuatorError is { } error)
        {
            RuntimeLog.PunctuatorFailed(_logger, error, task.Partition);
            task.LastPunctuatorError = null;
        }
    }

    private void ProduceOutput(OutputRecord record)
    {
        var message = new Message<byte[], byte[]>
        {
            Key = record.Key!,
            Value = record.Value!,
            Timestamp = new Timestamp(record.Timestamp),
            Headers = ToKafkaHeaders(record.Headers),
        };
        var destination = _outputDestinations.GetOrAdd(record.Topic, static topic => new TopicPartition(topic, Partition.Any));
        Produce(destination, message, _open);
    }

    private void Produce(TopicPartition destination, Message<byte[], byte[]> message, Epoch epoch) =>
        Produce(destination, message, epoch.OnDelivery, epoch);

    private void Produce(TopicPartition destination, Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>> onDelivery, Epoch? epoch)
    {
        if (_eos && !_inTransaction)
        {
            _producer!.BeginTransaction();
            _inTransaction = true;
        }

        while (true)
        {
            try
            {
                _producer!.Produce(destination, message, onDelivery);
                epoch?.Produced();
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Backpressure from librdkafka's queue: serve delivery reports until there is room (blocks, no spin).
                _producer!.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private static Headers ToKafkaHeaders(IReadOnlyList<RecordHeader> headers)
    {
        var result = new Headers();
        foreach (var header in headers)
        {
            result.Add(header.Key, header.Value);
        }

        return result;
    }

    /// <summary>Seals a commit of every task with uncommitted work and, with <paramref name="wait"/>, waits until it is
    /// durable (shutdown, revoke). Without transactions the commit then completes in the background of the poll loop
    /// (<see cref="AdvanceCommit"/>); only one commit is in flight at a time.</summary>
    private void CommitAll(bool wait = true)
    {
        if (_producer is null || _failed)
        {
            return;
        }

        if (_eos)
        {
            CommitTransaction();
            return;
        }

        // The previous commit must be complete before the next one is sealed: one in-flight layer per store, and
        // commits reach the changelog and local storage in sequence order.
        DrainCommit();
        BeginCommit();
        if (wait)
        {
            DrainCommit();
        }
    }

    /// <summary>
    /// Effectively-once without transactions; a commit goes through these steps in order, and only the first blocks
    /// processing:
    /// (1) seal: each task's writes since the last commit move to an in-flight layer (still readable), its changed keys
    ///     are produced to the changelogs, and everything produced so far (outputs of the sealed records included) forms
    ///     the commit's epoch;
    /// (2) when every record of the epoch is acknowledged, produce the commit markers (input offsets, stream time,
    ///     sequence) — so a marker never reaches the broker before the outputs and changelog records it vouches for;
    /// (3) when the markers are acknowledged, write state + checkpoint (with the markers' changelog positions) to local
    ///     storage in one atomic batch, on a background thread;
    /// (4) drop the in-flight layer and commit the offsets to the group.
    /// Records processed meanwhile belong to the next commit. A crash before (2) completes leaves no marker, so the
    /// commit never happened anywhere (the restore skips records without a marker); a crash after (2) leaves a complete
    /// commit in the changelog that the next owner restores; a delivery error stops the runtime before any marker of
    /// the epoch is produced, so the records are reprocessed.
    /// </summary>
    private void BeginCommit()
    {
        var batches = new List<CommitBatch>();
        foreach (var runner in _runners.Values)
        {
            if (runner.Task.HasUncommitted)
            {
                batches.Add(runner.Task.PrepareCommit());
            }
        }

        if (batches.Count == 0)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var epoch = _open;
        _open = new Epoch(this);
        if (_options.ProcessingThreads > 1 && batches.Count > 1)
        {
            // The seal holds up processing, and producing a second's changed keys is most of it: the tasks' changelog
            // partitions are independent (each batch stays in order on one thread), so the processing threads share it.
            try
            {
                Parallel.ForEach(batches, _parallel, batch => ProduceChangelog(batch, epoch));
            }
            catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            }
        }
        else
        {
            foreach (var batch in batches)
            {
                ProduceChangelog(batch, epoch);
            }
        }

        _inFlight = new PendingCommit(batches, epoch, started);
        AdvanceCommit();
    }

    private void ProduceChangelog(CommitBatch batch, Epoch epoch)
    {
        var dataHeaders = ToKafkaHeaders(Changelog.DataHeaders(batch.CommitId, batch.Sequence));
        for (var s = 0; s < _topology.Stores.Count; s++)
        {
            var destination = new TopicPartition(_topology.ChangelogTopic(_topology.Stores[s].Name), batch.Partition);
            foreach (var write in batch.Writes[s])
            {
                Produce(destination, new Message<byte[], byte[]> { Key = write.Key, Value = write.Value!, Headers = dataHeaders }, epoch);
            }
        }
    }

    /// <summary>Moves the in-flight commit on as far as its acknowledgements allow, without blocking.</summary>
    private void AdvanceCommit()
    {
        if (_inFlight is not { } commit)
        {
            return;
        }

        if (_deliveryError is { } error)
        {
            throw new StreamRuntimeException($"Producing failed ({error.Code}: {error.Reason}); stopping without committing so the records are reprocessed.");
        }

        if (commit.Stage == CommitStage.Data && commit.Data.Pending == 0)
        {
            ProduceMarkers(commit);
        }

        if (commit.Stage == CommitStage.Markers && commit.MarkersPending == 0)
        {
            StartLocalWrite(commit);
        }

        if (commit.Stage == CommitStage.Local && commit.LocalWrite!.IsCompleted)
        {
            FinishCommit(commit);
        }
    }

    private void ProduceMarkers(PendingCommit commit)
    {
        commit.Stage = CommitStage.Markers;
        foreach (var batch in commit.Batches)
        {
            var markerValue = Changelog.MarkerValue(batch.Checkpoint);
            var markerHeaders = ToKafkaHeaders(Changelog.MarkerHeaders(batch.CommitId, batch.Sequence));
            for (var s = 0; s < _topology.Stores.Count; s++)
            {
                var destination = new TopicPartition(_topology.ChangelogTopic(_topology.Stores[s].Name), batch.Partition);
                var key = (destination.Topic, batch.Partition);
                commit.MarkerProduced();
                Produce(destination, new Message<byte[], byte[]> { Key = Changelog.MarkerKey, Value = markerValue, Headers = markerHeaders }, report =>
                {
                    if (report.Error.IsError)
                    {
                        RecordDeliveryError(report.Error);
                    }

                    commit.MarkerDelivered(key, report.Error.IsError ? null : report.Offset.Value);
                }, null);
            }
        }
    }

    private void StartLocalWrite(PendingCommit commit)
    {
        commit.Stage = CommitStage.Local;
        var writes = new List<(StreamTask Task, CommitBatch Batch, Dictionary<string, long> Positions)>(commit.Batches.Count);
        foreach (var batch in commit.Batches)
        {
            var positions = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var store in _topology.Stores)
            {
                var topic = _topology.ChangelogTopic(store.Name);
                positions[topic] = commit.MarkerOffsets.TryGetValue((topic, batch.Partition), out var offset)
                    ? offset + 1
                    : throw new StreamRuntimeException($"No delivery report for the commit marker of {topic}-{batch.Partition}.");
            }

            writes.Add((_runners[batch.Partition].Task, batch, positions));
        }

        // RocksDB writes (WAL, memtable) overlap with processing of the next records; the stores read the in-flight
        // layer until FinishCommit drops it on this thread.
        commit.LocalWrite = Task.Run(() =>
        {
            foreach (var (task, batch, positions) in writes)
            {
                task.WriteLocal(batch, positions);
            }
        });
    }

    private void FinishCommit(PendingCommit commit, bool commitGroup = true)
    {
        _inFlight = null;
        commit.LocalWrite!.GetAwaiter().GetResult();
        var offsets = new List<TopicPartitionOffset>();
        foreach (var batch in commit.Batches)
        {
            if (_runners.TryGetValue(batch.Partition, out var runner))
            {
                runner.Task.EndCommit(batch);
            }

            foreach (var input in _topology.Inputs)
            {
                if (batch.Checkpoint.InputOffsets.TryGetValue(input.Topic, out var offset) && offset >= 0)
                {
                    offsets.Add(new TopicPartitionOffset(input.Topic, batch.Partition, offset));
                }
            }
        }

        if (commitGroup && offsets.Count > 0)
        {
            try
            {
                _consumer!.Commit(offsets);
            }
            catch (KafkaException ex)
            {
                RuntimeLog.GroupCommitFailed(_logger, ex);
            }
        }

        RuntimeMetrics.CommitLatency.WithLabels(_topology.ApplicationId).Observe(Stopwatch.GetElapsedTime(commit.Started).TotalSeconds);
    }

    /// <summary>Blocks until the in-flight commit (if any) is durable.</summary>
    private void DrainCommit()
    {
        while (_inFlight is { } commit)
        {
            AdvanceCommit();
            if (_inFlight is null)
            {
                return;
            }

            switch (commit.Stage)
            {
                case CommitStage.Data:
                case CommitStage.Markers:
                    FlushProducer();
                    break;
                case CommitStage.Local:
                    ((IAsyncResult)commit.LocalWrite!).AsyncWaitHandle.WaitOne();
                    break;
            }
        }
    }

    /// <summary>Drops the in-flight commit's work for tasks that are gone without committing (partitions lost). A local
    /// write already running is waited for: its markers are on the broker, so it is consistent either way.</summary>
    private void AbandonCommit(IReadOnlyCollection<int> partitions)
    {
        if (_inFlight is not { } commit)
        {
            return;
        }

        if (commit.Stage == CommitStage.Local)
        {
            try
            {
                commit.LocalWrite!.GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RuntimeLog.LocalWriteFailed(_logger, ex);
                _inFlight = null;
                return;
            }

            // Never commit offsets of partitions that may have a new owner already.
            FinishCommit(commit, commitGroup: false);
            return;
        }

        commit.Batches.RemoveAll(b => partitions.Contains(b.Partition));
    }

    /// <summary>Waits for a local write that may still use a task's storage (before the storage is disposed).</summary>
    private void WaitForLocalWrite()
    {
        if (_inFlight is { LocalWrite: { } write })
        {
            try
            {
                write.GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RuntimeLog.LocalWriteFailed(_logger, ex);
            }
        }
    }

    /// <summary>
    /// Commits every task with uncommitted work in one transaction (exactly_once_v2): (1) produce each store's changed
    /// keys and a commit marker to the changelogs, (2) commit the transaction together with the offsets, (3) write state +
    /// checkpoint locally in one atomic batch. A transaction that does not commit leaves nothing visible to read_committed
    /// readers, restores included.
    /// </summary>
    private void CommitTransaction()
    {
        var started = Stopwatch.GetTimestamp();
        var batches = _runners.Values.Where(r => r.Task.HasUncommitted).Select(r => r.Task.PrepareCommit()).ToList();
        if (batches.Count == 0)
        {
            return;
        }

        var markerOffsets = new Dictionary<(string Topic, int Partition), long>();
        foreach (var batch in batches)
        {
            var markerValue = Changelog.MarkerValue(batch.Checkpoint);
            for (var s = 0; s < _topology.Stores.Count; s++)
            {
                var destination = new TopicPartition(_topology.ChangelogTopic(_topology.Stores[s].Name), batch.Partition);
                var dataHeaders = ToKafkaHeaders(Changelog.DataHeaders(batch.CommitId, batch.Sequence));
                foreach (var write in batch.Writes[s])
                {
                    Produce(destination, new Message<byte[], byte[]> { Key = write.Key, Value = write.Value!, Headers = dataHeaders }, _open);
                }

                var key = (destination.Topic, batch.Partition);
                Produce(destination, new Message<byte[], byte[]>
                {
                    Key = Changelog.MarkerKey,
                    Value = markerValue,
                    Headers = ToKafkaHeaders(Changelog.MarkerHeaders(batch.CommitId, batch.Sequence)),
                }, report =>
                {
                    if (report.Error.IsError)
                    {
                        RecordDeliveryError(report.Error);
                    }
                    else
                    {
                        lock (markerOffsets)
                        {
                            markerOffsets[key] = report.Offset.Value;
                        }
                    }
                }, null);
            }
        }

        var offsets = batches.SelectMany(b => _topology.Inputs
                .Select(i => (Topic: i.Topic, Offset: b.Checkpoint.InputOffsets.TryGetValue(i.Topic, out var o) ? o : -1L))
                .Where(x => x.Offset >= 0)
                .Select(x => new TopicPartitionOffset(x.Topic, b.Partition, x.Offset)))
            .ToList();

        if (!_inTransaction)
        {
            _producer!.BeginTransaction();
            _inTransaction = true;
        }

        _producer!.SendOffsetsToTransaction(offsets, _consumer!.ConsumerGroupMetadata, TimeSpan.FromSeconds(30));
        _producer.CommitTransaction();
        _inTransaction = false;
        // CommitTransaction flushed everything: no delivery report is outstanding.
        _open = new Epoch(this);

        if (_deliveryError is { } error)
        {
            throw new StreamRuntimeException($"Producing failed ({error.Code}: {error.Reason}); stopping without committing so the records are reprocessed.");
        }

        foreach (var batch in batches)
        {
            var positions = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var store in _topology.Stores)
            {
                var topic = _topology.ChangelogTopic(store.Name);
                positions[topic] = markerOffsets.TryGetValue((topic, batch.Partition), out var offset)
                    ? offset + 1
                    : throw new StreamRuntimeException($"No delivery report for the commit marker of {topic}-{batch.Partition}.");
            }

            _runners[batch.Partition].Task.CompleteCommit(batch, positions);
        }

        RuntimeMetrics.CommitLatency.WithLabels(_topology.ApplicationId).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private void FlushProducer()
    {
        // Flush blocks in librdkafka; loop with a bounded wait only to log while the broker is slow or away.
        while (_producer!.Flush(TimeSpan.FromSeconds(5)) is var remaining and > 0)
        {
            RuntimeLog.FlushSlow(_logger, remaining);
            if (_deliveryError is not null)
            {
                return;
            }
        }
    }

    private void UpdateLag()
    {
        foreach (var runner in _runners.Values)
        {
            foreach (var input in _topology.Inputs)
            {
                var high = _consumer!.GetWatermarkOffsets(new TopicPartition(input.Topic, runner.Partition)).High.Value;
                var next = runner.Task.NextOffset(input.Topic) ?? runner.NextFetch[input.Index];
                if (high >= 0 && next >= 0)
                {
                    RuntimeMetrics.ConsumerLag
                        .WithLabels(_topology.ApplicationId, input.Topic, runner.Partition.ToString(CultureInfo.InvariantCulture))
                        .Set(Math.Max(0, high - next));
                }
            }
        }
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(List<TopicPartition> partitions)
    {
        var started = Stopwatch.GetTimestamp();
        var byTask = partitions.GroupBy(p => p.Partition.Value).OrderBy(g => g.Key).ToList();
        var result = new List<TopicPartitionOffset>();
        foreach (var group in byTask)
        {
            var missing = _topology.InputTopics.Except(group.Select(p => p.Topic)).ToList();
            if (missing.Count > 0)
            {
                throw new StreamRuntimeException(
                    $"Partition {group.Key} of {string.Join(", ", missing)} was not assigned with the rest of task {group.Key}: " +
                    "inputs are not co-partitioned or the assignor is not 'range'.");
            }

            var runner = OpenTask(group.Key);
            _runners[group.Key] = runner;
            foreach (var tp in group)
            {
                var index = _inputIndex[tp.Topic];
                var next = runner.Task.NextOffset(tp.Topic);
                runner.NextFetch[index] = next ?? -1;
                result.Add(new TopicPartitionOffset(tp, next is { } offset ? new Offset(offset) : Offset.Beginning));
            }
        }

        _assigned = [.. _runners.Keys.Order()];
        RuntimeLog.Assigned(_logger, string.Join(",", _assigned), (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return result;
    }

    private void OnRevoked(List<TopicPartitionOffset> partitions)
    {
        if (!_failed)
        {
            CommitAll();
        }

        // Pause state can outlive an assignment in librdkafka; a re-assigned partition must start fetching.
        if (_paused.Count > 0)
        {
            _consumer!.Resume([.. _paused]);
            _paused.Clear();
        }

        CloseTasks(partitions.Select(p => p.Partition.Value).Distinct());
        RuntimeLog.Revoked(_logger, string.Join(",", partitions.Select(p => p.Partition.Value).Distinct().Order()));
    }

    private void OnLost(List<TopicPartitionOffset> partitions)
    {
        // Another member may already own these tasks: committing now could overwrite its progress. Drop uncommitted work;
        // it is reprocessed (same ids) by whoever owns the task next.
        if (_eos && _inTransaction)
        {
            try
            {
                _producer!.AbortTransaction();
            }
            catch (KafkaException)
            {
                // The producer is rebuilt on the next failure anyway.
            }

            _inTransaction = false;
        }

        AbandonCommit([.. partitions.Select(p => p.Partition.Value).Distinct()]);
        CloseTasks(partitions.Select(p => p.Partition.Value).Distinct());
        RuntimeLog.Lost(_logger, string.Join(",", partitions.Select(p => p.Partition.Value).Distinct().Order()));
    }

    private void CloseTasks(IEnumerable<int> partitionNumbers)
    {
        WaitForLocalWrite();
        foreach (var partition in partitionNumbers.ToList())
        {
            if (_runners.Remove(partition, out var runner))
            {
                runner.Task.Dispose();
                foreach (var input in _topology.Inputs)
                {
                    _paused.Remove(new TopicPartition(input.Topic, partition));
                }
            }
        }

        _assigned = [.. _runners.Keys.Order()];
    }

    private void CloseAllTasks() => CloseTasks([.. _runners.Keys]);

    /// <summary>Opens a task's storage, checks it against the broker, catches up from the changelogs and verifies that
    /// the inputs still hold the records it resumes from.</summary>
    private TaskRunner OpenTask(int partition)
    {
        var storage = _options.StorageFactory.Open(_topology, partition);
        try
        {
            var inputMarks = _topology.Inputs.ToDictionary(
                i => i.Topic,
                i => _restoreConsumer!.QueryWatermarkOffsets(new TopicPartition(i.Topic, partition), TimeSpan.FromSeconds(10)),
                StringComparer.Ordinal);
            var changelogMarks = _topology.Stores.ToDictionary(
                s => _topology.ChangelogTopic(s.Name),
                s => _restoreConsumer!.QueryWatermarkOffsets(new TopicPartition(_topology.ChangelogTopic(s.Name), partition), TimeSpan.FromSeconds(10)),
                StringComparer.Ordinal);

            if (storage.ReadCheckpoint() is { } checkpoint && StaleDetail(checkpoint, inputMarks, changelogMarks) is { } detail)
            {
                if (_options.OnStaleState == StaleStateHandling.Fail)
                {
                    throw new StreamRuntimeException($"Task {partition}: local state is ahead of the broker ({detail}).");
                }

                RuntimeLog.StaleStateRebuild(_logger, partition, detail);
                storage.Wipe();
            }

            Restore(storage, partition, changelogMarks);
            var task = new StreamTask(_topology, partition, storage, _sink, _clock);
            if (_topology.Stores.Count == 0)
            {
                SeedFromGroup(task, partition);
            }
            else if (storage.ReadCheckpoint() is null && GroupHasOffsets(partition))
            {
                throw new StreamRuntimeException(
                    $"Task {partition}: the group has committed offsets but no changelog commit exists for the task's stores. " +
                    "The changelog topics were lost or recreated; rebuilding from the committed offsets would produce wrong state.");
            }

            foreach (var input in _topology.Inputs)
            {
                if (task.NextOffset(input.Topic) is { } next && next < inputMarks[input.Topic].Low.Value)
                {
                    throw new StreamRuntimeException(
                        $"Task {partition} resumes {input.Topic} at offset {next} but the partition starts at {inputMarks[input.Topic].Low.Value}: " +
                        "records were lost to retention. Refusing to skip them.");
                }
            }

            var runner = new TaskRunner(partition, task, _topology.Inputs.Count);
            runner.Probe = input => CaughtUp(runner, input);
            return runner;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    private static string? StaleDetail(
        TaskCheckpoint checkpoint,
        Dictionary<string, WatermarkOffsets> inputMarks,
        Dictionary<string, WatermarkOffsets> changelogMarks)
    {
        foreach (var (topic, offset) in checkpoint.InputOffsets)
        {
            if (inputMarks.TryGetValue(topic, out var marks) && offset > marks.High.Value)
            {
                return $"{topic} next offset {offset} > high watermark {marks.High.Value}";
            }
        }

        foreach (var (topic, position) in checkpoint.ChangelogPositions)
        {
            if (changelogMarks.TryGetValue(topic, out var marks) && position > marks.High.Value)
            {
                return $"{topic} position {position} > high watermark {marks.High.Value}";
            }
        }

        return null;
    }

    /// <summary>Reads each store's changelog partition from the stored position to its end (the consumer position, not
    /// the last record's offset: transaction markers occupy offsets) and applies the complete commits found.</summary>
    private void Restore(ITaskStorage storage, int partition, Dictionary<string, WatermarkOffsets> changelogMarks)
    {
        if (_topology.Stores.Count == 0)
        {
            return;
        }

        var checkpoint = storage.ReadCheckpoint();
        var restorer = new ChangelogRestorer(_topology.Stores.Count, requireMarkers: !_eos);
        var ends = new Dictionary<string, long>(StringComparer.Ordinal);
        var consumer = _restoreConsumer!;
        foreach (var store in _topology.Stores)
        {
            var topic = _topology.ChangelogTopic(store.Name);
            var tp = new TopicPartition(topic, partition);
            var marks = changelogMarks[topic];
            var position = checkpoint?.ChangelogPositions.GetValueOrDefault(topic) ?? 0;
            ends[topic] = marks.High.Value;
            if (position < marks.Low.Value)
            {
                throw new StreamRuntimeException(
                    $"Changelog {topic}-{partition} starts at {marks.Low.Value} but task state needs it from {position}: " +
                    "changelog records were lost to retention. Refusing to restore partial state.");
            }

            if (position >= marks.High.Value)
            {
                continue;
            }

            var remaining = RuntimeMetrics.RestoreRemaining.WithLabels(_topology.ApplicationId, store.Name, partition.ToString(CultureInfo.InvariantCulture));
            var restored = RuntimeMetrics.RestoredRecords.WithLabels(_topology.ApplicationId, store.Name);
            consumer.Assign(new TopicPartitionOffset(tp, position));
            var lastProgress = Stopwatch.GetTimestamp();
            while (true)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (result is not null)
                {
                    var headers = result.Message.Headers is { Count: > 0 } h
                        ? h.Select(x => new RecordHeader(x.Key, x.GetValueBytes())).ToArray()
                        : [];
                    restorer.Add(store.Index, result.Message.Key, result.Message.Value, headers);
                    restored.Inc();
                    lastProgress = Stopwatch.GetTimestamp();
                }

                var at = consumer.Position(tp).Value;
                remaining.Set(Math.Max(0, marks.High.Value - Math.Max(at, position)));
                if (at >= marks.High.Value)
                {
                    break;
                }

                if (Stopwatch.GetElapsedTime(lastProgress) > TimeSpan.FromSeconds(60))
                {
                    throw new StreamRuntimeException($"Restoring {topic}-{partition} made no progress for 60 s at position {at} (end {marks.High.Value}).");
                }
            }

            consumer.Unassign();
            remaining.Set(0);
        }

        var outcome = restorer.Complete();
        var target = (outcome.Checkpoint ?? checkpoint ?? TaskCheckpoint.Empty) with { ChangelogPositions = ends };
        storage.Write(outcome.Writes, target);
        if (outcome.RecordsRead > 0)
        {
            RuntimeLog.Restored(_logger, partition, string.Join(",", _topology.StoreNames), outcome.RecordsRead, outcome.CommitsApplied,
                outcome.RecordsSkipped, string.Join(",", target.InputOffsets.Select(p => $"{p.Key}={p.Value}")));
        }
    }

    private void SeedFromGroup(StreamTask task, int partition)
    {
        var committed = _consumer!.Committed(
            [.. _topology.Inputs.Select(i => new TopicPartition(i.Topic, partition))], TimeSpan.FromSeconds(10));
        foreach (var tpo in committed)
        {
            if (tpo.Offset.Value >= 0)
            {
                task.SeedOffset(tpo.Topic, tpo.Offset.Value);
            }
        }
    }

    private bool GroupHasOffsets(int partition) =>
        _consumer!.Committed([.. _topology.Inputs.Select(i => new TopicPartition(i.Topic, partition))], TimeSpan.FromSeconds(10))
            .Any(tpo => tpo.Offset.Value >= 0);

    private static bool IsTransactionFailure(KafkaException ex) =>
        ex is KafkaTxnRequiresAbortException
        || ex.Error.IsFatal
        || ex.Error.Code is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch or ErrorCode.Local_Fenced
            or ErrorCode.InvalidTxnState or ErrorCode.TransactionCoordinatorFenced;

    /// <summary>Fencing is fatal for a librdkafka transactional producer: abort what can be aborted, build a new producer,
    /// and put every task back to its last commit (local checkpoint, then the changelog, which settles whether an
    /// interrupted transaction committed), seeking the consumer there.</summary>
    private void RecoverFromTransactionFailure(KafkaException ex)
    {
        if (!ex.Error.IsFatal && _inTransaction)
        {
            try
            {
                _producer!.AbortTransaction();
            }
            catch (KafkaException)
            {
                // A producer that cannot abort is replaced below.
            }
        }

        _inTransaction = false;
        _deliveryError = null;
        _open = new Epoch(this);
        _producer!.Dispose();
        _producer = BuildProducer();
        foreach (var runner in _runners.Values)
        {
            var marks = _topology.Stores.ToDictionary(
                s => _topology.ChangelogTopic(s.Name),
                s => _restoreConsumer!.QueryWatermarkOffsets(new TopicPartition(_topology.ChangelogTopic(s.Name), runner.Partition), TimeSpan.FromSeconds(10)),
                StringComparer.Ordinal);
            Restore(runner.Task.Storage, runner.Partition, marks);
            runner.Task.LoadCheckpoint();
            foreach (var input in _topology.Inputs)
            {
                runner.Clear(input.Index);
                var next = runner.Task.NextOffset(input.Topic);
                runner.NextFetch[input.Index] = next ?? -1;
                _consumer!.Seek(new TopicPartitionOffset(input.Topic, runner.Partition, next is { } o ? new Offset(o) : Offset.Beginning));
            }
        }
    }

    /// <summary>Auto: transactions on real Kafka; none on the development broker (librdkafka's mock cluster, whose
    /// cluster id starts with "mockCluster"), where isolation is not enforced and transactional offsets are dropped, so
    /// transactions would cost throughput and add nothing. If the broker cannot be identified, the mode that is correct
    /// on any broker is used.</summary>
    private ProcessingGuarantee ResolveGuarantee()
    {
        if (_options.Guarantee != ProcessingGuarantee.Auto)
        {
            return _options.Guarantee;
        }

        try
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _options.BootstrapServers }).Build();
            var cluster = admin.DescribeClusterAsync(new DescribeClusterOptions { RequestTimeout = TimeSpan.FromSeconds(10) })
                .GetAwaiter().GetResult();
            return cluster.ClusterId?.StartsWith("mockCluster", StringComparison.Ordinal) == true
                ? ProcessingGuarantee.AtLeastOnceIdempotent
                : ProcessingGuarantee.ExactlyOnceV2;
        }
        catch (KafkaException ex)
        {
            RuntimeLog.GuaranteeFallback(_logger, ex, ProcessingGuarantee.AtLeastOnceIdempotent);
            return ProcessingGuarantee.AtLeastOnceIdempotent;
        }
    }

    /// <summary>Checks co-partitioning and changelogs up front. Topics are not created here: the development broker
    /// cannot create them through the admin API and the topic catalog owns partition counts and cleanup policies.</summary>
    private int ValidateTopics()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _options.BootstrapServers }).Build();
        // All-topics metadata: asking for a named topic would auto-create it with the broker's default partition count.
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(30));
        var counts = metadata.Topics.Where(t => !t.Error.IsError).ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);
        int? expected = null;
        foreach (var topic in _topology.InputTopics)
        {
            if (!counts.TryGetValue(topic, out var count))
            {
                throw new StreamRuntimeException($"Input topic '{topic}' does not exist.");
            }

            expected ??= count;
            if (count != expected)
            {
                throw new StreamRuntimeException(
                    $"Inputs of '{_topology.ApplicationId}' are not co-partitioned: '{topic}' has {count} partitions, expected {expected}.");
            }
        }

        foreach (var store in _topology.StoreNames)
        {
            var topic = _topology.ChangelogTopic(store);
            var policy = _eos ? "cleanup.policy=compact" : "cleanup.policy=delete with unlimited retention (commit markers must not be compacted away without transactions)";
            if (!counts.TryGetValue(topic, out var count) || count != expected)
            {
                throw new StreamRuntimeException(
                    $"Changelog topic '{topic}' must exist with {expected} partitions (found {(counts.TryGetValue(topic, out var c) ? c : 0)}), {policy}.");
            }
        }

        return expected!.Value;
    }

    private IProducer<byte[], byte[]> BuildProducer()
    {
        var config = new ProducerConfig(new Dictionary<string, string>(
            (IEnumerable<KeyValuePair<string, string>>?)_options.ProducerConfig ?? []))
        {
            BootstrapServers = _options.BootstrapServers,
            ClientId = $"{_topology.ApplicationId}-{_options.InstanceId}",
            EnableIdempotence = true,
            Acks = Acks.All,
            // Same partitioner as Java clients: outputs keyed by pool land where co-partitioned consumers expect them.
            Partitioner = Confluent.Kafka.Partitioner.Murmur2Random,
            // Delivery reports are served on the processing thread (Poll/Flush), never on a background thread: a commit
            // must see every report of what it flushed (marker offsets, errors) before it writes local state, and
            // librdkafka's flush can return before a background thread has run the last handlers.
            EnableBackgroundPoll = false,
            // Commits need only each report's error and offset; copying key, value and headers back into managed memory
            // for every output was a large share of the runtime's allocations.
            DeliveryReportFields = "none",
        };
        config.CompressionType ??= CompressionType.Lz4;
        config.LingerMs ??= 5;
        if (_eos)
        {
            config.TransactionalId = $"{_topology.ApplicationId}-{_options.InstanceId}";
            config.TransactionTimeoutMs = 60_000;
        }

        var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        if (_eos)
        {
            producer.InitTransactions(TimeSpan.FromSeconds(30));
        }

        return producer;
    }

    private IConsumer<byte[], byte[]> BuildConsumer()
    {
        var config = new ConsumerConfig(new Dictionary<string, string>(
            (IEnumerable<KeyValuePair<string, string>>?)_options.ConsumerConfig ?? []))
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _topology.ApplicationId,
            ClientId = $"{_topology.ApplicationId}-{_options.InstanceId}",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            // Positions come from local state; a position outside the log means lost records and must stop the worker.
            AutoOffsetReset = AutoOffsetReset.Error,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
            GroupProtocol = GroupProtocol.Classic,
            IsolationLevel = _eos ? IsolationLevel.ReadCommitted : IsolationLevel.ReadUncommitted,
            SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds,
            HeartbeatIntervalMs = (int)_options.HeartbeatInterval.TotalMilliseconds,
            EnablePartitionEof = false,
        };
        // On the development broker a parked fetch is answered at fetch.wait.max.ms even when data arrives sooner
        // (bench: p50 end-to-end 364 ms at librdkafka's 500 ms default, ~100 ms at 100 ms), so the wait is a latency
        // floor there. 100 ms keeps idle fetch traffic low (idle worker CPU stays under 2% of a core).
        config.FetchWaitMaxMs ??= 100;
        return new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler((_, partitions) => Guard(() => OnAssigned(partitions), []))
            .SetPartitionsRevokedHandler((_, partitions) => Guard(() => OnRevoked(partitions)))
            .SetPartitionsLostHandler((_, partitions) => Guard(() => OnLost(partitions)))
            .Build();
    }

    /// <summary>Runs a rebalance handler; a failure is kept and rethrown by the poll loop. Why: the handlers run inside
    /// Consume (and inside Close/Dispose); keeping the failure ourselves makes the stop explicit wherever the handler
    /// ran, marks the run failed so no later revoke commits, and never leaves a live process with a dead consumer.</summary>
    private T Guard<T>(Func<T> handler, T fallback)
    {
        if (_handlerFailure is not null)
        {
            return fallback;
        }

        try
        {
            return handler();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _handlerFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex);
            _failed = true;
            return fallback;
        }
    }

    private void Guard(Action handler) => Guard<bool>(() =>
    {
        handler();
        return true;
    }, false);

    private IConsumer<byte[], byte[]> BuildRestoreConsumer()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            // Never subscribes or commits: partitions are assigned by hand.
            GroupId = _topology.ApplicationId + "-restore",
            ClientId = $"{_topology.ApplicationId}-{_options.InstanceId}-restore",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Error,
            IsolationLevel = _eos ? IsolationLevel.ReadCommitted : IsolationLevel.ReadUncommitted,
            EnablePartitionEof = false,
            // Restores read to a known end offset; do not let the broker hold fetches waiting for more data.
            FetchWaitMaxMs = 10,
        };
        return new ConsumerBuilder<byte[], byte[]>(config).Build();
    }
}
