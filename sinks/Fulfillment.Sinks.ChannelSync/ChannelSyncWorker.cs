using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Hosting;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Maps hub events to channel pushes (pure, so it is tested without Kafka).</summary>
public static class PushMapping
{
    public static PushRequest Shipment(ShipmentEvent e, IChannelPusherLookup pushers, string topic, int partition, long offset, byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(pushers);
        var s = (ShipmentConfirmed)e.body;
        var push = new ShipmentPush($"shipment:{s.shipment_id}", e.metadata.pool_id, e.metadata.correlation_id, e.metadata.event_id,
            s.channel, s.shop_id, s.channel_order_id, s.shipment_id, s.carrier, s.service, s.tracking_number, s.tracking_url,
            [.. s.lines.Select(l => new PushLine(l.line_id, l.sku, l.quantity))], e.metadata.occurred_at);
        return new PushRequest(push.PushId, push.PoolId, push.CorrelationId, push.CausationId, s.channel, s.shop_id,
            pushers.ShipmentOperation(s.channel), s.channel_order_id, (p, shop, ct) => p.PushShipmentAsync(shop, push, ct),
            topic, partition, offset, value);
    }

    /// <summary>
    /// One push per configured shop the figure is for. The inventory processor reports available-to-sell per channel
    /// (empty <c>shop_id</c>: every shop of that channel sells from the pool); a named shop goes to that shop only.
    /// A shop that also has an entry of its own in the same event (its own channel mapping or routing) gets only that one.
    /// A channel with no configured shop gets nothing (<paramref name="unconfigured"/> is told, for the metric):
    /// stock for a channel we do not sync is not an error, unlike tracking for an order that came from it.
    /// </summary>
    public static IReadOnlyList<StockPush> Stock(StockLevelEvent e, IEnumerable<ChannelEndpoint> shops, Action<Fulfillment.Schemas.Common.Channel>? unconfigured = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(shops);
        if (e.body is not StockLevelChanged c)
        {
            return [];
        }

        var pushes = new List<StockPush>();
        // A shop with its own mapping or routing gets its own figure (a named entry) beside the channel-wide one ("");
        // it must get only its own, or it would receive two different figures for one SKU.
        var named = c.channel_available_to_sell.Where(x => x.shop_id.Length > 0)
            .Select(x => (x.channel, x.shop_id.ToUpperInvariant())).ToHashSet();
        foreach (var channelStock in c.channel_available_to_sell)
        {
            var targets = shops.Where(s => s.Channel == channelStock.channel && s.ShopId is { Length: > 0 }
                && (channelStock.shop_id.Length == 0
                    ? !named.Contains((channelStock.channel, s.ShopId.ToUpperInvariant()))
                    : string.Equals(s.ShopId, channelStock.shop_id, StringComparison.OrdinalIgnoreCase))).ToList();
            if (targets.Count == 0)
            {
                unconfigured?.Invoke(channelStock.channel);
            }

            foreach (var shop in targets)
            {
                pushes.Add(new StockPush($"stock:{channelStock.channel}:{shop.ShopId}:{c.sku}:{e.metadata.event_id}", e.metadata.pool_id,
                    e.metadata.event_id, channelStock.channel, shop.ShopId!, c.sku, Math.Max(0, channelStock.available_to_sell), e.metadata.occurred_at));
            }
        }

        return pushes;
    }

    public static PushRequest Stock(StockPush push, string topic)
    {
        ArgumentNullException.ThrowIfNull(push);
        return new PushRequest(push.PushId, push.PoolId, $"sku:{push.Sku}", push.CausationId, push.Channel, push.ShopId, PushOperation.SetInventory,
            push.Sku, (p, shop, ct) => p.PushStockAsync(shop, push, ct), topic);
    }
}

/// <summary>Which operation a channel's shipment push is.</summary>
public interface IChannelPusherLookup
{
    PushOperation ShipmentOperation(Fulfillment.Schemas.Common.Channel channel);
}

internal sealed class PusherLookup(IEnumerable<IChannelPusher> pushers) : IChannelPusherLookup
{
    private readonly Dictionary<Fulfillment.Schemas.Common.Channel, IChannelPusher> _byChannel = pushers.ToDictionary(p => p.Channel);

    public PushOperation ShipmentOperation(Fulfillment.Schemas.Common.Channel channel) =>
        _byChannel.TryGetValue(channel, out var p) ? p.ShipmentOperation : PushOperation.UpdateTracking;
}

/// <summary>
/// Consumes shipment confirmations and stock level changes; shipment pushes run concurrently (a channel in backoff does
/// not hold up the others), stock changes are coalesced per window. Offsets are committed only up to the oldest record
/// whose push has not finished (<see cref="OffsetTracker"/>).
/// </summary>
public sealed partial class ChannelSyncWorker(
    PushExecutor executor,
    IChannelPusherLookup lookup,
    IPushRecorder recorder,
    IHandledLedger ledger,
    IOptions<KafkaOptions> kafka,
    IOptions<ChannelSyncOptions> options,
    TimeProvider time,
    ILogger<ChannelSyncWorker> logger) : BackgroundService
{
    private const int MaxConcurrentPushes = 16;
    private const int MaxConcurrentStockPushes = 8;

    private static readonly Counter StockCoalesced = Metrics.CreateCounter(
        "fulfillment_channel_sync_stock_coalesced_total", "Stock figures replaced by a later one before they were pushed (pushes saved), by channel.",
        new CounterConfiguration { LabelNames = ["channel"] });

    private static readonly Counter StockSkipped = Metrics.CreateCounter(
        "fulfillment_channel_sync_stock_skipped_total", "Per-channel stock figures not pushed because no shop of that channel is configured.",
        new CounterConfiguration { LabelNames = ["channel"] });

    private static readonly Gauge InFlight = Metrics.CreateGauge(
        "fulfillment_channel_sync_pushes_in_flight", "Pushes running now (including their backoff waits), by kind (shipment, stock).",
        new GaugeConfiguration { LabelNames = ["kind"] });

    private static readonly Counter AlreadyHandled = Metrics.CreateCounter(
        "fulfillment_channel_sync_already_handled_total",
        "Records completed without a push because the handled-records ledger has them (re-derived after a broker re-seed), by topic.",
        new CounterConfiguration { LabelNames = ["topic"] });

    /// <summary>Registry, Kafka or Postgres failures waited out and retried instead of stopping the worker (shared with
    /// <see cref="KafkaPushRecorder"/>).</summary>
    internal static readonly Counter TransientErrors = Metrics.CreateCounter(
        "fulfillment_channel_sync_transient_errors_total",
        "Schema registry, Kafka or Postgres failures retried after a backoff instead of stopping the worker, by operation and reason.",
        new CounterConfiguration { LabelNames = ["operation", "reason"] });

    private readonly TransientRetry _retry = new(null, logger, "Channel sync", TransientErrors);
    private readonly OffsetTracker _offsets = new();

    // The handled-records ledger (IHandledLedger): what is known handled (loaded at start, grown at each commit), the
    // records of tickets whose pushes are running, and the finished ones waiting for the next commit to be written.
    private readonly HashSet<HandledRecord> _handled = [];
    private readonly Lock _handledLock = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<RecordTicket, HandledRecord> _ticketRecords = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<HandledRecord> _toLedger = new();
    private readonly StockCoalescer _stock = new(options.Value.StockCoalesceWindow);

    // Pushes still owed per stock record: the record is committed once every figure it carried has been pushed (or
    // superseded by a later figure that has been).
    private readonly Dictionary<RecordTicket, int> _stockOwed = [];
    private readonly Lock _stockLock = new();
    private readonly SemaphoreSlim _slots = new(MaxConcurrentPushes);
    private readonly SemaphoreSlim _stockSlots = new(MaxConcurrentStockPushes);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // One token for both loops: if consuming fails (e.g. offset out of range under auto.offset.reset=error) the
        // flush loop stops too and the failure reaches the host, which stops: never a live process with a dead consumer.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var flush = FlushStockLoopAsync(stop.Token);
        try
        {
            await Task.Run(() => ConsumeAsync(stop.Token), stop.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogConsumerFailed(logger, e);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await flush;
        }
    }

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        // auto.offset.reset stays 'error' (KafkaDefaults): a committed position that fell out of retention must stop the
        // worker loudly, never silently skip shipments whose tracking the customer is waiting for.
        var config = KafkaDefaults.Consumer(kafka.Value.BootstrapServers, o.ConsumerGroup, "sink-channel-sync");
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = kafka.Value.SchemaRegistryUrl });
        var shipments = new AvroDeserializer<ShipmentEvent>(registry);
        var stockLevels = new AvroDeserializer<StockLevelEvent>(registry);
        var known = await ledger.LoadAsync(stoppingToken);
        lock (_handledLock)
        {
            _handled.UnionWith(known);
        }

        if (ledger.Durable)
        {
            LogLedgerLoaded(logger, known.Count);
        }

        using var consumer = new ConsumerBuilder<string, byte[]>(config)
            .SetPartitionsAssignedHandler((c, assigned) => StartPositions(c, assigned))
            .SetPartitionsRevokedHandler((c, revoked) =>
            {
                Commit(c);
                _offsets.Forget(revoked.Select(r => r.TopicPartition));
                lock (_stockLock)
                {
                    // Figures still pending for these records are pushed anyway (harmless, absolute); their records
                    // belong to the next owner of the partition, which reads them again.
                    foreach (var stale in _stockOwed.Keys.Where(k => revoked.Any(r => r.Topic == k.Topic && r.Partition.Value == k.Partition)).ToList())
                    {
                        _stockOwed.Remove(stale);
                        _ticketRecords.TryRemove(stale, out _);
                    }
                }
            })
            .Build();
        consumer.Subscribe([o.ShipmentsTopic, o.StockLevelsTopic]);
        var lastCommit = time.GetUtcNow();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (time.GetUtcNow() - lastCommit > TimeSpan.FromSeconds(1))
                {
                    Commit(consumer);
                    lastCommit = time.GetUtcNow();
                }

                if (record is null)
                {
                    continue;
                }

                var ticket = _offsets.Start(record.TopicPartitionOffset);
                try
                {
                    var context = new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers);
                    if (record.Topic == o.ShipmentsTopic)
                    {
                        // The writer schema is fetched once per id; while the registry (or its Postgres) is down
                        // that waits and retries rather than stopping the worker or dead-lettering a good record.
                        var e = await _retry.RunAsync("decode", () => shipments.DeserializeAsync(record.Message.Value, false, context), stoppingToken);
                        if (AlreadyHandledRecord(ticket, record.Topic, e.metadata.event_id))
                        {
                            continue;
                        }

                        _ticketRecords[ticket] = new HandledRecord(record.Topic, e.metadata.event_id);
                        var request = PushMapping.Shipment(e, lookup, record.Topic, record.Partition.Value, record.Offset.Value, record.Message.Value);
                        await _slots.WaitAsync(stoppingToken);
                        _ = RunShipmentAsync(request, ticket, stoppingToken);
                    }
                    else
                    {
                        var e = await _retry.RunAsync("decode", () => stockLevels.DeserializeAsync(record.Message.Value, false, context), stoppingToken);
                        if (AlreadyHandledRecord(ticket, record.Topic, e.metadata.event_id))
                        {
                            continue;
                        }

                        var pushes = PushMapping.Stock(e, o.Shops, channel => StockSkipped.WithLabels(channel.ToString()).Inc());
                        if (pushes.Count == 0)
                        {
                            _offsets.Complete(ticket);
                        }
                        else
                        {
                            _ticketRecords[ticket] = new HandledRecord(record.Topic, e.metadata.event_id);
                            lock (_stockLock)
                            {
                                _stockOwed[ticket] = pushes.Count;
                                foreach (var push in pushes)
                                {
                                    if (_stock.Add(push, time.GetUtcNow(), ticket))
                                    {
                                        StockCoalesced.WithLabels(push.Channel.ToString()).Inc();
                                    }
                                }
                            }
                        }
                    }
                }
                catch (Exception e) when (e is InvalidDataException or Avro.AvroException or InvalidCastException or SchemaRegistryException)
                {
                    // Bad input never stops the partition and never disappears (decision 7).
                    await recorder.DeadLetterAsync(BadRecord(record, e), stoppingToken);
                    _offsets.Complete(ticket);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Commit(consumer);
            consumer.Close();
        }
    }

    /// <summary>
    /// Where each assigned partition starts: the group's committed offset, or explicitly the beginning for a partition
    /// the group has never committed (a fresh group). With auto.offset.reset=error librdkafka would fail on a partition
    /// without a committed offset, so the fresh-group case is decided here, deliberately: pushes are idempotent, so
    /// re-reading history is safe, skipping it is not.
    /// </summary>
    internal static IEnumerable<TopicPartitionOffset> StartPositions(IConsumer<string, byte[]> consumer, List<TopicPartition> assigned)
    {
        if (assigned.Count == 0)
        {
            return [];
        }

        var committed = consumer.Committed(assigned, TimeSpan.FromSeconds(30)).ToDictionary(c => c.TopicPartition, c => c.Offset);
        return [.. assigned.Select(tp => new TopicPartitionOffset(tp,
            committed.TryGetValue(tp, out var offset) && offset.Value >= 0 ? offset : Offset.Beginning))];
    }

    private async Task RunShipmentAsync(PushRequest request, RecordTicket offset, CancellationToken stoppingToken)
    {
        using var inFlight = InFlight.WithLabels("shipment").TrackInProgress();
        try
        {
            await executor.ExecuteAsync(request, stoppingToken);
            Completed(offset);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Left in flight: not committed, pushed again after restart.
        }
        catch (Exception e) when (e is KafkaException or SchemaRegistryException)
        {
            LogRecordFailed(logger, request.PushId, e);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task FlushStockLoopAsync(CancellationToken stoppingToken)
    {
        // Polling at a fraction of the window keeps the extra delay small without a timer per key.
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(options.Value.StockCoalesceWindow.TotalMilliseconds / 4, 10, 100));
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(tick, time, stoppingToken);
                IReadOnlyList<CoalescedStock> due;
                lock (_stockLock)
                {
                    due = _stock.TakeDue(time.GetUtcNow());
                }

                foreach (var stock in due)
                {
                    await _stockSlots.WaitAsync(stoppingToken);
                    _ = RunStockAsync(stock, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunStockAsync(CoalescedStock stock, CancellationToken stoppingToken)
    {
        using var inFlight = InFlight.WithLabels("stock").TrackInProgress();
        var done = false;
        try
        {
            await executor.ExecuteAsync(PushMapping.Stock(stock.Push, options.Value.StockLevelsTopic), stoppingToken);
            done = true;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Left owed: its records stay uncommitted and the figure is pushed again after restart.
        }
        catch (Exception e) when (e is KafkaException or SchemaRegistryException)
        {
            LogRecordFailed(logger, stock.Push.PushId, e);
        }
        finally
        {
            lock (_stockLock)
            {
                _stock.Finish(stock.Key);
                foreach (var source in stock.Sources.Where(_ => done))
                {
                    if (_stockOwed.TryGetValue(source, out var owed) && (_stockOwed[source] = owed - 1) == 0)
                    {
                        _stockOwed.Remove(source);
                        Completed(source);
                    }
                }
            }

            _stockSlots.Release();
        }
    }

    /// <summary>A record already in the ledger (a re-derived copy of one pushed before a broker restart): completed at
    /// once, nothing is called.</summary>
    private bool AlreadyHandledRecord(RecordTicket ticket, string topic, string eventId)
    {
        lock (_handledLock)
        {
            if (!_handled.Contains(new HandledRecord(topic, eventId)))
            {
                return false;
            }
        }

        AlreadyHandled.WithLabels(topic).Inc();
        _offsets.Complete(ticket);
        return true;
    }

    /// <summary>Every push of the record reached its final outcome: queued for the ledger first, so whatever a commit
    /// finds committable is also in the ledger write that precedes it.</summary>
    private void Completed(RecordTicket ticket)
    {
        if (_ticketRecords.TryRemove(ticket, out var record))
        {
            _toLedger.Enqueue(record);
        }

        _offsets.Complete(ticket);
    }

    /// <summary>Writes the finished records to the ledger; on failure they stay queued for the next commit (the Kafka
    /// commit still goes ahead: the ledger only matters once the broker has forgotten the group).</summary>
    private void FlushLedger()
    {
        var batch = new List<HandledRecord>();
        while (_toLedger.TryDequeue(out var record))
        {
            batch.Add(record);
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            ledger.AddAsync(batch, timeout.Token).GetAwaiter().GetResult();
            lock (_handledLock)
            {
                _handled.UnionWith(batch);
            }
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            foreach (var record in batch)
            {
                _toLedger.Enqueue(record);
            }

            LogLedgerFailed(logger, batch.Count, e);
        }
    }

    private void Commit(IConsumer<string, byte[]> consumer)
    {
        var offsets = _offsets.Committable();
        FlushLedger();
        if (offsets.Count == 0)
        {
            return;
        }

        try
        {
            consumer.Commit(offsets);
        }
        catch (KafkaException e)
        {
            LogCommitFailed(logger, e);
        }
    }

    private DeadLetter BadRecord(ConsumeResult<string, byte[]> record, Exception e)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var id = $"{record.Topic}/{record.Partition.Value}/{record.Offset.Value}";
        return new DeadLetter
        {
            metadata = new Fulfillment.Schemas.Common.EventMetadata
            {
                event_id = PushExecutor.DeterministicId(id + "|undecodable"),
                pool_id = record.Message.Key ?? "unknown",
                correlation_id = id,
                causation_id = id,
                source_system = "channel-sync",
                source_id = id,
                occurred_at = now,
                recorded_at = now,
            },
            source_topic = record.Topic,
            source_partition = record.Partition.Value,
            source_offset = record.Offset.Value,
            key = record.Message.Key is null ? null : System.Text.Encoding.UTF8.GetBytes(record.Message.Key),
            value = record.Message.Value,
            headers = [],
            reason = $"undecodable record: {e.Message}",
            error_type = e.GetType().Name,
            failed_at = now,
            consumer_group = options.Value.ConsumerGroup,
        };
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Push {PushId}: recording its outcome failed; it stays uncommitted and is retried after restart")]
    private static partial void LogRecordFailed(ILogger logger, string pushId, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Consuming failed; the worker stops (committed offsets stay where the last finished push left them)")]
    private static partial void LogConsumerFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Handled-records ledger: {Count} records already handled (re-derived copies of them are not pushed again)")]
    private static partial void LogLedgerLoaded(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} handled records to the ledger failed; retrying on the next commit")]
    private static partial void LogLedgerFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Committing offsets failed; retrying on the next commit")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception);

    public override void Dispose()
    {
        _slots.Dispose();
        _stockSlots.Dispose();
        base.Dispose();
    }
}
