using System.Diagnostics;
using System.Text.Json;
using Avro.Specific;
using Confluent.Kafka;
using Fulfillment.Hosting;
using Fulfillment.Schemas.Common;
using Fulfillment.Sinks.Views.Projection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Prometheus;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// The consume loop of the views: polls a batch, projects it, and writes rows plus offsets in one Postgres transaction.
/// Positions live only in Postgres (<c>sink_offsets</c>); on assignment the consumer seeks to them, so Kafka's committed
/// offsets play no part and a crash anywhere leaves the views consistent with exactly the records they reflect.
/// </summary>
public sealed partial class ViewsSink
{
    private static readonly Counter Records = Metrics.CreateCounter(
        "fulfillment_views_sink_records_total", "Records written to the views, by topic.", new CounterConfiguration { LabelNames = ["topic"] });

    private static readonly Counter Rejected = Metrics.CreateCounter(
        "fulfillment_views_sink_rejected_total", "Records the views sink could not decode (kept in sink_rejects).");

    private static readonly Histogram BatchSeconds = Metrics.CreateHistogram(
        "fulfillment_views_sink_batch_seconds", "Time to write one batch to Postgres.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });

    private static readonly HashSet<TopicKind> Archived = [TopicKind.RawIngest, TopicKind.OperatorCommands, TopicKind.ChannelPushOutcomes];

    private readonly ViewsSinkOptions _options;
    private readonly string _bootstrap;
    private readonly EventDecoder _decoder;
    private readonly ViewWriter _writer;
    private readonly ILogger _logger;
    private readonly Dictionary<string, TopicKind> _kinds;
    private readonly ViewBatch _batch = new();
    private readonly List<ConsumeResult<byte[], byte[]>> _pending = [];

    public ViewsSink(ViewsSinkOptions options, string bootstrapServers, NpgsqlDataSource dataSource, EventDecoder decoder, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _bootstrap = bootstrapServers;
        _decoder = decoder;
        _logger = logger;
        _writer = new ViewWriter(dataSource, options.Schema, options.Consumer);
        _kinds = options.Topics.All().ToDictionary(t => t.Name, t => t.Kind, StringComparer.Ordinal);
    }

    /// <summary>Total records written by this instance.</summary>
    public long RecordsWritten { get; private set; }

    /// <summary>Runs as a member of the consumer group until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var config = KafkaDefaults.Consumer(_bootstrap, _options.GroupId, "views-sink");
        config.SessionTimeoutMs = _options.SessionTimeoutMs;
        config.HeartbeatIntervalMs = Math.Max(100, _options.SessionTimeoutMs / 6);
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler((_, partitions) => Seek(partitions, ct))
            // Whatever was polled for a partition about to leave is written now, while it is still ours.
            .SetPartitionsRevokedHandler((_, _) => FlushAsync(ct).GetAwaiter().GetResult())
            .SetPartitionsLostHandler((_, _) => FlushAsync(ct).GetAwaiter().GetResult())
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
            consumer.Close();
        }
    }

    /// <summary>Reads every partition of the consumed topics from its stored position (or the beginning) up to
    /// <paramref name="endOffsets"/> and returns; no group. Replay and the tests use it.</summary>
    public async Task RunToAsync(IReadOnlyDictionary<TopicPartition, long> endOffsets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endOffsets);
        var config = KafkaDefaults.Consumer(_bootstrap, $"{_options.GroupId}-bounded-{Guid.NewGuid():N}", "views-replay");
        using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        var stored = await _writer.ReadOffsetsAsync(_kinds.Keys, ct);
        var open = endOffsets
            .Where(e => e.Value > stored.GetValueOrDefault((e.Key.Topic, e.Key.Partition.Value), 0))
            .ToDictionary(e => e.Key, e => e.Value);
        consumer.Assign(open.Keys.Select(tp =>
            new TopicPartitionOffset(tp, stored.TryGetValue((tp.Topic, tp.Partition.Value), out var next) ? new Offset(next) : Offset.Beginning)));
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
        }
        finally
        {
            consumer.Close();
        }
    }

    private List<TopicPartitionOffset> Seek(List<TopicPartition> partitions, CancellationToken ct)
    {
        var stored = _writer.ReadOffsetsAsync(partitions.Select(p => p.Topic).Distinct(), ct).GetAwaiter().GetResult();
        LogAssigned(_logger, partitions.Count, stored.Count);
        return partitions.Select(tp => stored.TryGetValue((tp.Topic, tp.Partition.Value), out var next)
            ? new TopicPartitionOffset(tp, new Offset(next))
            : new TopicPartitionOffset(tp, Offset.Beginning)).ToList();
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
        while (_pending.Count < _options.MaxBatch)
        {
            var remaining = _options.MaxBatchWaitMs - clock.ElapsedMilliseconds;
            if (remaining <= 0)
            {
                break;
            }

            var next = consumer.Consume(TimeSpan.FromMilliseconds(remaining));
            if (next is null)
            {
                break;
            }

            _pending.Add(next);
        }

        await FlushAsync(ct);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        _batch.Clear();
        foreach (var result in _pending)
        {
            await AddAsync(result);
        }

        using (BatchSeconds.NewTimer())
        {
            await _writer.WriteAsync(_batch, ct);
        }

        foreach (var group in _pending.GroupBy(r => r.Topic, StringComparer.Ordinal))
        {
            Records.WithLabels(group.Key).Inc(group.Count());
        }

        RecordsWritten += _pending.Count;
        LogBatch(_logger, _pending.Count, RecordsWritten);
        _pending.Clear();
    }

    private async Task AddAsync(ConsumeResult<byte[], byte[]> result)
    {
        var topic = result.Topic;
        var partition = result.Partition.Value;
        var offset = result.Offset.Value;
        _batch.RecordCount++;
        _batch.NextOffsets[(topic, partition)] = Math.Max(_batch.NextOffsets.GetValueOrDefault((topic, partition)), offset + 1);
        var kind = _kinds[topic];
        ISpecificRecord value;
        try
        {
            if (result.Message.Value is not { Length: > 0 } bytes)
            {
                throw new InvalidDataException("The record has no value.");
            }

            value = await _decoder.DecodeAsync(kind, topic, bytes);
            // Projector handlers throw (unknown body type) before adding any row, so a rejected record leaves none.
            Projector.Apply(_batch, topic, partition, offset, value);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Rejected.Inc();
            LogRejected(_logger, topic, partition, offset, e.Message);
            ViewBatch.KeepFirst(_batch.Rejects, (topic, partition, offset), new RejectRow(topic, partition, offset, $"{e.GetType().Name}: {e.Message}"));
            return;
        }

        if (_options.Archive && Archived.Contains(kind) && value.Get(0) is EventMetadata m)
        {
            var headers = JsonSerializer.Serialize((result.Message.Headers ?? []).Select(h => new { name = h.Key, value = Convert.ToBase64String(h.GetValueBytes()) }));
            ViewBatch.KeepFirst(_batch.Archive, (topic, m.event_id), new ArchiveRow(
                topic, m.event_id, m.pool_id, result.Message.Key, result.Message.Value, headers, result.Message.Timestamp.UnixTimestampMs));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Views sink started: schema {Schema}, topics {Topics}")]
    private static partial void LogStarted(ILogger logger, string schema, string topics);

    [LoggerMessage(Level = LogLevel.Information, Message = "Views sink assigned {Partitions} partitions ({Stored} with stored positions)")]
    private static partial void LogAssigned(ILogger logger, int partitions, int stored);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Views batch of {Count} records written ({Total} in total)")]
    private static partial void LogBatch(ILogger logger, int count, long total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Views sink rejected {Topic}/{Partition}@{Offset}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string topic, int partition, long offset, string reason);
}
