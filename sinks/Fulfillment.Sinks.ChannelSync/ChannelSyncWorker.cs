using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Fulfillment.Hosting;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.DeadLetters;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using Microsoft.Extensions.Options;

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

    public static IEnumerable<StockPush> Stock(StockLevelEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.body is not StockLevelChanged c)
        {
            yield break;
        }

        foreach (var channelStock in c.channel_available_to_sell)
        {
            yield return new StockPush($"stock:{channelStock.channel}:{channelStock.shop_id}:{c.sku}:{e.metadata.event_id}", e.metadata.pool_id,
                e.metadata.event_id, channelStock.channel, channelStock.shop_id, c.sku, Math.Max(0, channelStock.available_to_sell), e.metadata.occurred_at);
        }
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
    IOptions<KafkaOptions> kafka,
    IOptions<ChannelSyncOptions> options,
    TimeProvider time,
    ILogger<ChannelSyncWorker> logger) : BackgroundService
{
    private const int MaxConcurrentPushes = 16;
    private readonly OffsetTracker _offsets = new();
    private readonly StockCoalescer _stock = new();
    private readonly List<TopicPartitionOffset> _stockOffsets = [];
    private readonly Lock _stockLock = new();
    private readonly SemaphoreSlim _slots = new(MaxConcurrentPushes);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Task.Run(() => ConsumeAsync(stoppingToken), stoppingToken), FlushStockLoopAsync(stoppingToken));

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var config = KafkaDefaults.Consumer(kafka.Value.BootstrapServers, o.ConsumerGroup, "sink-channel-sync");
        // A new group starts from the beginning: pushes are idempotent, so re-reading is safe, skipping is not.
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = kafka.Value.SchemaRegistryUrl });
        var shipments = new AvroDeserializer<ShipmentEvent>(registry);
        var stockLevels = new AvroDeserializer<StockLevelEvent>(registry);
        using var consumer = new ConsumerBuilder<string, byte[]>(config)
            .SetPartitionsRevokedHandler((c, revoked) =>
            {
                Commit(c);
                _offsets.Forget(revoked.Select(r => r.TopicPartition));
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

                _offsets.Start(record.TopicPartitionOffset);
                try
                {
                    var context = new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers);
                    if (record.Topic == o.ShipmentsTopic)
                    {
                        var e = await shipments.DeserializeAsync(record.Message.Value, false, context);
                        var request = PushMapping.Shipment(e, lookup, record.Topic, record.Partition.Value, record.Offset.Value, record.Message.Value);
                        await _slots.WaitAsync(stoppingToken);
                        _ = RunShipmentAsync(request, record.TopicPartitionOffset, stoppingToken);
                    }
                    else
                    {
                        var e = await stockLevels.DeserializeAsync(record.Message.Value, false, context);
                        lock (_stockLock)
                        {
                            foreach (var push in PushMapping.Stock(e))
                            {
                                _stock.Add(push);
                            }

                            _stockOffsets.Add(record.TopicPartitionOffset);
                        }
                    }
                }
                catch (Exception e) when (e is InvalidDataException or Avro.AvroException or InvalidCastException or SchemaRegistryException)
                {
                    // Bad input never stops the partition and never disappears (decision 7).
                    await recorder.DeadLetterAsync(BadRecord(record, e), stoppingToken);
                    _offsets.Complete(record.TopicPartitionOffset);
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

    private async Task RunShipmentAsync(PushRequest request, TopicPartitionOffset offset, CancellationToken stoppingToken)
    {
        try
        {
            await executor.ExecuteAsync(request, stoppingToken);
            _offsets.Complete(offset);
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
        using var timer = new PeriodicTimer(options.Value.StockCoalesceWindow > TimeSpan.Zero ? options.Value.StockCoalesceWindow : TimeSpan.FromMilliseconds(50), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                IReadOnlyList<StockPush> pushes;
                List<TopicPartitionOffset> covered;
                lock (_stockLock)
                {
                    pushes = _stock.Drain();
                    covered = [.. _stockOffsets];
                    _stockOffsets.Clear();
                }

                await Task.WhenAll(pushes.Select(p => executor.ExecuteAsync(PushMapping.Stock(p, options.Value.StockLevelsTopic), stoppingToken)));
                foreach (var offset in covered)
                {
                    _offsets.Complete(offset);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Commit(IConsumer<string, byte[]> consumer)
    {
        var offsets = _offsets.Committable();
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Committing offsets failed; retrying on the next commit")]
    private static partial void LogCommitFailed(ILogger logger, Exception exception);

    public override void Dispose()
    {
        _slots.Dispose();
        base.Dispose();
    }
}
