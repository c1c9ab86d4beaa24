using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Avro.Specific;
using Confluent.Kafka;
using Fulfillment.Hosting;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Stock;
using Fulfillment.Sinks.Views.Projection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Prometheus;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// The consume loop of the views: polls a batch, projects it, and writes it in two tracks (<see cref="ViewWriter"/>):
/// the view rows plus their offsets (two concurrent transactions: stock-level records, everything else — each with the
/// offsets of its own topics), then the audit index plus its own offsets in another transaction, which runs while the
/// next batch is read and written (at most one audit write in flight). Positions live only in
/// Postgres (<c>sink_offsets</c>, one set per track); on assignment the consumer seeks to the lower of the two and each
/// track skips the records it already holds, so Kafka's committed offsets play no part and a crash anywhere leaves
/// each track consistent with exactly the records it reflects.
/// </summary>
public sealed partial class ViewsSink
{
    // Normalized orders too: after a broker restart the processor must get them back exactly as it consumed them (record
    // timestamps order its inputs), which re-normalizing raw deliveries cannot give (API fetches, lost timestamps).
    private static readonly HashSet<TopicKind> Archived = [TopicKind.RawIngest, TopicKind.Orders, TopicKind.OperatorCommands, TopicKind.ChannelPushOutcomes];

    private readonly ViewsSinkOptions _options;
    private readonly string _bootstrap;
    private readonly EventDecoder _decoder;
    private readonly ViewWriter _writer;
    private readonly TransientRetry _retry;
    private readonly ILogger _logger;
    private readonly Dictionary<string, TopicKind> _kinds;
    private readonly ViewBatch _batch = new();

    // Stock-level records: only stock_levels, stock_drift and stock_movements depend on them, so they commit in their own
    // transaction (with their own topic's offsets), alongside the rest of the batch instead of after it.
    private readonly ViewBatch _stock = new();
    private readonly ViewBatch _auditOnly = new();
    private readonly List<ConsumeResult<byte[], byte[]>> _pending = [];
    private readonly Dictionary<(string Topic, int Partition), long> _auditNextOffsets = [];

    // recorded_at of the stock-level changes in the batch's stock transaction (freshness, observed once it commits).
    private readonly List<DateTime> _stockChanges = [];
    private readonly Dictionary<TopicPartition, long> _batchEnds = [];

    // Positions stored per track when the partitions were (re)assigned; records below them are already in that track.
    private readonly Dictionary<(string Topic, int Partition), long> _stateStored = [];
    private readonly Dictionary<(string Topic, int Partition), long> _auditStored = [];
    private Task _audit = Task.CompletedTask;

    // Slow start: a (re)started sink's first transactions run cold (JIT, schema lookups, statement preparation), and one
    // of MaxBatch records behind a backlog took 10+ s on the loaded bench machine before any row was visible; starting
    // small and doubling per batch makes the first rows visible within about a second of work and reaches full
    // batches after a few.
    private const int FirstBatch = 250;
    private int _batchLimit;

    public ViewsSink(ViewsSinkOptions options, string bootstrapServers, NpgsqlDataSource dataSource, EventDecoder decoder, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _bootstrap = bootstrapServers;
        _decoder = decoder;
        _logger = logger;
        _writer = new ViewWriter(dataSource, options.Schema, options.Consumer);
        _retry = new TransientRetry(dataSource, logger, "Views sink", ViewsSinkMetrics.TransientErrors);
        _kinds = options.Topics.All().ToDictionary(t => t.Name, t => t.Kind, StringComparer.Ordinal);
        _batchLimit = Math.Min(FirstBatch, options.MaxBatch);
    }

    /// <summary>Total records written by this instance.</summary>
    public long RecordsWritten { get; private set; }

    /// <summary>Transactions committed by this instance.</summary>
    public long BatchesWritten { get; private set; }

    /// <summary>Postgres or registry operations this instance retried after a transient error (<see cref="TransientRetry"/>).</summary>
    public long TransientRetries => _retry.Retries;

    /// <summary>Runs as a member of the consumer group until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var config = KafkaDefaults.Consumer(_bootstrap, _options.GroupId, "views-sink");
        config.SessionTimeoutMs = _options.SessionTimeoutMs;
        config.HeartbeatIntervalMs = Math.Max(100, _options.SessionTimeoutMs / 6);
        config.FetchWaitMaxMs = _options.FetchWaitMaxMs;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler((_, partitions) => Seek(partitions, ct))
            // Whatever was polled for a partition about to leave is written now, in both tracks, while it is still ours.
            .SetPartitionsRevokedHandler((_, partitions) => Release(partitions.Select(p => p.TopicPartition), ct))
            .SetPartitionsLostHandler((_, partitions) => Release(partitions.Select(p => p.TopicPartition), ct))
            .Build();
        consumer.Subscribe(_kinds.Keys);
        LogStarted(_logger, _options.Schema, string.Join(", ", _kinds.Keys));
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await PollBatchAsync(consumer, ct);
            }
        }
        finally
        {
            await DrainAuditQuietlyAsync();
            consumer.Close();
        }
    }

    /// <summary>Reads every partition of the consumed topics from its stored position (or the beginning) up to
    /// <paramref name="endOffsets"/> and returns; no group. Replay and the tests use it.</summary>
    public async Task RunToAsync(IReadOnlyDictionary<TopicPartition, long> endOffsets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endOffsets);
        var config = KafkaDefaults.Consumer(_bootstrap, $"{_options.GroupId}-bounded-{Guid.NewGuid():N}", "views-replay");
        config.FetchWaitMaxMs = _options.FetchWaitMaxMs;
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        await LoadStoredAsync(_kinds.Keys, ct);
        var open = endOffsets
            .Where(e => e.Value > StartOf(e.Key))
            .ToDictionary(e => e.Key, e => e.Value);
        consumer.Assign(open.Keys.Select(tp => new TopicPartitionOffset(tp, new Offset(StartOf(tp)))));
        try
        {
            while (open.Count > 0)
            {
                ct.ThrowIfCancellationRequested();
                await PollBatchAsync(consumer, ct);
                foreach (var tp in open.Keys.ToList())
                {
                    var position = consumer.Position(tp);
                    if (position != Offset.Unset && position.Value >= open[tp])
                    {
                        open.Remove(tp);
                        consumer.IncrementalUnassign([tp]);
                    }
                }
            }

            await DrainAuditAsync();
        }
        finally
        {
            await DrainAuditQuietlyAsync();
            consumer.Close();
        }
    }

    private void Release(IEnumerable<TopicPartition> partitions, CancellationToken ct)
    {
        FlushAndDrainAsync(ct).GetAwaiter().GetResult();
        foreach (var tp in partitions)
        {
            ViewsSinkMetrics.ConsumerLag.RemoveLabelled(tp.Topic, tp.Partition.Value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private List<TopicPartitionOffset> Seek(List<TopicPartition> partitions, CancellationToken ct)
    {
        LoadStoredAsync(partitions.Select(p => p.Topic).Distinct(), ct).GetAwaiter().GetResult();
        // New partitions may come with a backlog: start small again.
        _batchLimit = Math.Min(FirstBatch, _options.MaxBatch);
        LogAssigned(_logger, partitions.Count, _stateStored.Count);
        return partitions.Select(tp => new TopicPartitionOffset(tp, new Offset(StartOf(tp)))).ToList();
    }

    /// <summary>Reads both tracks' stored positions (after any audit write in flight has finished).</summary>
    private async Task LoadStoredAsync(IEnumerable<string> topics, CancellationToken ct)
    {
        await DrainAuditAsync();
        var list = topics.ToList();
        _stateStored.Clear();
        _auditStored.Clear();
        foreach (var (key, next) in await _retry.RunAsync("read_offsets", () => _writer.ReadOffsetsAsync(list, ct), ct))
        {
            _stateStored[key] = next;
        }

        foreach (var (key, next) in await _retry.RunAsync("read_offsets", () => _writer.ReadOffsetsAsync(list, _writer.AuditConsumer, ct), ct))
        {
            _auditStored[key] = next;
        }
    }

    /// <summary>Where reading resumes: the lower of the two tracks' positions (0 when a track has none).</summary>
    private long StartOf(TopicPartition tp)
    {
        var key = (tp.Topic, tp.Partition.Value);
        return Math.Min(_stateStored.GetValueOrDefault(key), _auditStored.GetValueOrDefault(key));
    }

    private async Task PollBatchAsync(IConsumer<byte[], byte[]> consumer, CancellationToken ct)
    {
        var first = consumer.Consume(TimeSpan.FromMilliseconds(200));
        if (first is null)
        {
            return;
        }

        _pending.Add(first);
        var clock = Stopwatch.StartNew();
        while (_pending.Count < _batchLimit)
        {
            // What the client has already fetched joins the batch at once; the linger only bounds waiting for more.
            var next = consumer.Consume(TimeSpan.Zero);
            if (next is null)
            {
                var remaining = _options.MaxBatchWaitMs - clock.ElapsedMilliseconds;
                next = remaining > 0 ? consumer.Consume(TimeSpan.FromMilliseconds(remaining)) : null;
                if (next is null)
                {
                    break;
                }
            }

            _pending.Add(next);
        }

        _batchEnds.Clear();
        foreach (var r in _pending)
        {
            _batchEnds[r.TopicPartition] = r.Offset.Value + 1;
        }

        await FlushAsync(ct);
        _batchLimit = (int)Math.Min(_options.MaxBatch, 2L * _batchLimit);
        foreach (var (tp, next) in _batchEnds)
        {
            // The client's cached high watermark (from its last fetch response): no broker round trip.
            var high = consumer.GetWatermarkOffsets(tp).High;
            if (high != Offset.Unset)
            {
                ViewsSinkMetrics.ConsumerLag.WithLabels(tp.Topic, tp.Partition.Value.ToString(CultureInfo.InvariantCulture)).Set(Math.Max(0, high.Value - next));
            }
        }
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        _batch.Clear();
        _stock.Clear();
        _auditNextOffsets.Clear();
        _stockChanges.Clear();
        foreach (var result in _pending)
        {
            await AddAsync(result, ct);
        }

        using (ViewsSinkMetrics.BatchDuration.NewTimer())
        {
            // Two transactions on two connections, each with the offsets of its own topics (no row in common): a
            // stock-level change is visible as soon as its small transaction commits, not after the orders' one.
            // A Postgres restart rolls a transaction back whole; it is redone from the same records until it commits.
            await Task.WhenAll(
                _stock.RecordCount > 0 ? WriteStockAsync(ct) : Task.CompletedTask,
                _batch.RecordCount > 0 ? _retry.RunAsync("write_state", () => _writer.WriteAsync(_batch, ct), ct) : Task.CompletedTask);
        }

        foreach (var group in _pending.GroupBy(r => r.Topic, StringComparer.Ordinal))
        {
            ViewsSinkMetrics.Records.WithLabels(group.Key).Inc(group.Count());
        }

        // The audit rows follow their batch's view rows: awaiting the previous audit write bounds the pipeline to one
        // in flight and surfaces its failure here, on the loop, which stops the sink.
        await _audit;
        if (_auditNextOffsets.Count > 0)
        {
            var events = _batch.Events.Values.Concat(_stock.Events.Values).DistinctBy(e => e.EventId, StringComparer.Ordinal).ToList();
            var next = new Dictionary<(string Topic, int Partition), long>(_auditNextOffsets);
            // Not cancelled by a stop: one bounded write, and letting it finish leaves both tracks at the same position
            // after a clean shutdown. Only waiting to retry it stops with the sink (redone from its offsets next start).
            _audit = Task.Run(
                () => _retry.RunAsync("write_audit", () => _writer.WriteAuditAsync(events, next, CancellationToken.None), ct),
                CancellationToken.None);
        }

        RecordsWritten += _batch.RecordCount + _stock.RecordCount;
        BatchesWritten++;
        LogBatch(_logger, _pending.Count, RecordsWritten);
        _pending.Clear();
    }

    private async Task WriteStockAsync(CancellationToken ct)
    {
        await _retry.RunAsync("write_stock", () => _writer.WriteAsync(_stock, ct), ct);
        var committedAt = DateTime.UtcNow;
        foreach (var recordedAt in _stockChanges)
        {
            ViewsSinkMetrics.StockFreshness.Observe(Math.Max(0, (committedAt - recordedAt).TotalSeconds));
        }
    }

    private async Task FlushAndDrainAsync(CancellationToken ct)
    {
        await FlushAsync(ct);
        await DrainAuditAsync();
    }

    private async Task DrainAuditAsync()
    {
        var audit = _audit;
        _audit = Task.CompletedTask;
        await audit;
    }

    /// <summary>On the way out (the loop is already failing or stopping): let the audit write in flight finish; if it
    /// fails, its rows and offsets rolled back together and are redone from the stored position on the next start.</summary>
    private async Task DrainAuditQuietlyAsync()
    {
        try
        {
            await DrainAuditAsync();
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogAuditLost(_logger, e.Message);
        }
    }

    private async Task AddAsync(ConsumeResult<byte[], byte[]> result, CancellationToken ct)
    {
        var topic = result.Topic;
        var partition = result.Partition.Value;
        var offset = result.Offset.Value;
        var key = (topic, partition);
        // After a crash between the two tracks' commits, the records in between are re-read for one track only.
        var state = offset >= _stateStored.GetValueOrDefault(key);
        var audit = offset >= _auditStored.GetValueOrDefault(key);
        if (audit)
        {
            _auditNextOffsets[key] = Math.Max(_auditNextOffsets.GetValueOrDefault(key), offset + 1);
        }

        if (!state)
        {
            if (audit)
            {
                await AddAuditOnlyAsync(result, ct);
            }

            return;
        }

        var kind = _kinds[topic];
        var batch = kind == TopicKind.StockLevels ? _stock : _batch;
        batch.RecordCount++;
        batch.NextOffsets[key] = Math.Max(batch.NextOffsets.GetValueOrDefault(key), offset + 1);
        ISpecificRecord value;
        try
        {
            if (result.Message.Value is not { Length: > 0 } bytes)
            {
                throw new InvalidDataException("The record has no value.");
            }

            // A registry that cannot answer now (its Postgres restarting) is waited for; only a value that cannot be
            // decoded is rejected, or the live views would lack records a replay has.
            value = await _retry.RunAsync("decode", () => _decoder.DecodeAsync(kind, topic, bytes), ct);
            // Projector handlers throw (unknown body type) before adding any row, so a rejected record leaves none.
            batch.IndexEvents = audit;
            try
            {
                Projector.Apply(batch, topic, partition, offset, value);
            }
            finally
            {
                batch.IndexEvents = true;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ViewsSinkMetrics.Rejected.Inc();
            LogRejected(_logger, topic, partition, offset, e.Message);
            ViewBatch.KeepFirst(batch.Rejects, (topic, partition, offset), new RejectRow(topic, partition, offset, $"{e.GetType().Name}: {e.Message}"));
            return;
        }

        switch (value)
        {
            case AllocationEvent a:
                ViewsSinkMetrics.CountAllocation(a);
                break;
            case StockLevelEvent s:
                ViewsSinkMetrics.CountStock(s);
                if (s.body is StockLevelChanged)
                {
                    _stockChanges.Add(Projector.Utc(s.metadata.recorded_at));
                }

                break;
        }

        if (_options.Archive && Archived.Contains(kind) && value.Get(0) is EventMetadata m)
        {
            var headers = JsonSerializer.Serialize((result.Message.Headers ?? []).Select(h => new { name = h.Key, value = Convert.ToBase64String(h.GetValueBytes()) }));
            ViewBatch.KeepFirst(_batch.Archive, (topic, m.event_id), new ArchiveRow(
                topic, m.event_id, m.pool_id, result.Message.Key, result.Message.Value, headers, result.Message.Timestamp.UnixTimestampMs));
        }
    }

    /// <summary>A record the state track already holds: only its audit index row (if it decodes; the state track kept
    /// the reject).</summary>
    private async Task AddAuditOnlyAsync(ConsumeResult<byte[], byte[]> result, CancellationToken ct)
    {
        try
        {
            if (result.Message.Value is { Length: > 0 } bytes)
            {
                _auditOnly.Clear();
                var value = await _retry.RunAsync("decode", () => _decoder.DecodeAsync(_kinds[result.Topic], result.Topic, bytes), ct);
                Projector.Apply(_auditOnly, result.Topic, result.Partition.Value, result.Offset.Value, value);
                foreach (var (id, row) in _auditOnly.Events)
                {
                    ViewBatch.KeepFirst(_batch.Events, id, row);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogRejected(_logger, result.Topic, result.Partition.Value, result.Offset.Value, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Views sink started: schema {Schema}, topics {Topics}")]
    private static partial void LogStarted(ILogger logger, string schema, string topics);

    [LoggerMessage(Level = LogLevel.Information, Message = "Views sink assigned {Partitions} partitions ({Stored} with stored positions)")]
    private static partial void LogAssigned(ILogger logger, int partitions, int stored);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Views batch of {Count} records written ({Total} in total)")]
    private static partial void LogBatch(ILogger logger, int count, long total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Views sink: last audit index write failed while stopping ({Reason}); it is redone on the next start")]
    private static partial void LogAuditLost(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Views sink rejected {Topic}/{Partition}@{Offset}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string topic, int partition, long offset, string reason);
}
