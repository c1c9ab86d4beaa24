using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Fulfillment.Connectors.Channels;
using Fulfillment.Hosting;
using Fulfillment.Schemas.Common;
using SalesChannel = Fulfillment.Schemas.Common.Channel;
using Fulfillment.Schemas.Ingest;
using Fulfillment.Schemas.Orders;
using Microsoft.Extensions.Options;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>A stored delivery and what its receiver made of it, ready for Kafka.</summary>
public sealed record PublishItem(RawDeliveryRow Row, DeliveryResult Result);

/// <summary>
/// Produces each stored delivery's raw record and normalized events (Avro, Confluent wire format, schemas registered in
/// the registry) after the request was answered, and marks the row published once Kafka acknowledged every record.
/// A delivery whose records fail stays unpublished in Postgres and the sweeper retries it; event ids are deterministic,
/// so a retry that overlaps an earlier partial success yields duplicates consumers recognise.
/// </summary>
public sealed partial class EventPublisher : BackgroundService
{
    private readonly System.Threading.Channels.Channel<PublishItem> _queue = System.Threading.Channels.Channel.CreateBounded<PublishItem>(new System.Threading.Channels.BoundedChannelOptions(100_000) { SingleReader = true });
    /// <summary>Queued deliveries whose orders are fetched at once (their records still go out in queue order).</summary>
    private const int MaxConcurrentFetches = 64;

    private static readonly Task<OrderEvent?> NoFetch = Task.FromResult<OrderEvent?>(null);

    private readonly ConcurrentDictionary<Guid, byte> _inFlight = new();
    private readonly RawDeliveryStore _store;
    private readonly ConnectorOptions _options;
    private readonly Dictionary<SalesChannel, IOrderFetcher> _fetchers;
    private readonly ILogger<EventPublisher> _logger;
    private readonly IProducer<string, byte[]> _producer;
    private readonly ISchemaRegistryClient _registry;
    private readonly AvroEncoder<RawIngestRecord> _rawEncoder;
    private readonly AvroEncoder<OrderEvent> _orderEncoder;

    public EventPublisher(RawDeliveryStore store, IOptions<ConnectorOptions> options, IOptions<KafkaOptions> kafka,
        IEnumerable<IOrderFetcher> fetchers, ILogger<EventPublisher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kafka);
        _store = store;
        _options = options.Value;
        _fetchers = fetchers.ToDictionary(f => f.Channel);
        _logger = logger;
        var registryUrl = kafka.Value.SchemaRegistryUrl
            ?? throw new InvalidOperationException("Kafka:SchemaRegistryUrl is required: normalized events are Avro with registered schemas");
        var config = KafkaDefaults.Producer(kafka.Value.BootstrapServers, "connector-webhooks");
        config.QueueBufferingMaxMessages = 1_000_000;
        config.LingerMs = _options.ProduceLingerMs;
        // Only the error of a delivery report is read: the client then skips copying each record's headers, timestamp and
        // persistence status back into managed objects (two reports per delivery).
        config.DeliveryReportFields = "none";
        _producer = new ProducerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, e) => LogKafkaError(_logger, e.Code, e.Reason))
            .Build();
        _registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
        _rawEncoder = new AvroEncoder<RawIngestRecord>(_registry, _options.RawIngestTopic);
        _orderEncoder = new AvroEncoder<OrderEvent>(_registry, _options.OrdersTopic);
        if (!IngestAvro.RawRecordWritable || !IngestAvro.OrderEventWritable)
        {
            LogGenericAvro(_logger);
        }
    }

    /// <summary>Queues a stored delivery; false when it is already queued or the queue is full (the sweeper picks it up).</summary>
    public bool Enqueue(PublishItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!_inFlight.TryAdd(item.Row.Id, 0))
        {
            return false;
        }

        if (_queue.Writer.TryWrite(item))
        {
            ConnectorMetrics.PublishBacklog.Inc();
            return true;
        }

        _inFlight.TryRemove(item.Row.Id, out _);
        return false;
    }

    /// <summary>Whether the delivery is queued or awaiting Kafka's acknowledgement.</summary>
    public bool IsInFlight(Guid id) => _inFlight.ContainsKey(id);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Deliveries that name an order without carrying it (TikTok Shop) need an HTTP fetch first. Awaiting each fetch in
        // turn capped the whole connector's publishing at one fetch latency per such delivery (e2e bench: a backlog of
        // 11k deliveries behind 10 ms fetches), so up to MaxConcurrentFetches queued deliveries are fetched at once while
        // records still go out in queue order: each delivery is produced only once its own fetch (if any) is done.
        var window = new Queue<(PublishItem Item, Task<OrderEvent?> Fetched)>();
        Task<bool>? more = null;
        var queueOpen = true;
        try
        {
            while (true)
            {
                while (window.Count < MaxConcurrentFetches && _queue.Reader.TryRead(out var next))
                {
                    window.Enqueue((next, FetchAsync(next, stoppingToken)));
                }

                if (window.Count == 0)
                {
                    if (!queueOpen || !await _queue.Reader.WaitToReadAsync(stoppingToken))
                    {
                        return;
                    }

                    continue;
                }

                var (item, fetched) = window.Peek();
                if (!fetched.IsCompleted)
                {
                    if (queueOpen && window.Count < MaxConcurrentFetches)
                    {
                        // Meanwhile start the fetches of deliveries that arrive; one wait on the queue stays pending until it fires.
                        more ??= _queue.Reader.WaitToReadAsync(stoppingToken).AsTask();
                        await Task.WhenAny(fetched, more);
                        if (more.IsCompleted)
                        {
                            queueOpen = more.IsCompletedSuccessfully && more.Result;
                            more = null;
                        }

                        continue;
                    }

                    await ((Task)fetched).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                window.Dequeue();
                try
                {
                    await PublishAsync(item, await fetched, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Bad data, a failed fetch or an unreachable registry must not stop the loop; the row stays unpublished
                    // in Postgres for the sweeper.
                    LogPublishFailed(_logger, item.Row.Source, item.Row.DeliveryId, e);
                    Done(item.Row.Id, ok: false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        _producer.Flush(TimeSpan.FromSeconds(5));
    }

    public override void Dispose()
    {
        _producer.Dispose();
        _registry.Dispose();
        base.Dispose();
    }

    /// <summary>The order event of a delivery that only names its order (fetched from the channel's API), else null.</summary>
    private Task<OrderEvent?> FetchAsync(PublishItem item, CancellationToken cancellationToken)
    {
        if (item.Result is not { Fetch: { } fetch, Shop: { } shop } || !_fetchers.TryGetValue(shop.Channel, out var fetcher))
        {
            return NoFetch;
        }

        return FetchOrderAsync(item.Row, fetch, shop, fetcher, cancellationToken);

        static async Task<OrderEvent?> FetchOrderAsync(RawDeliveryRow row, OrderFetchRequest fetch, ChannelShop shop, IOrderFetcher fetcher,
            CancellationToken cancellationToken)
        {
            var context = new DeliveryContext(row.Source, row.DeliveryId, shop, row.ReceivedAt);
            return await fetcher.FetchAsync(context, fetch, cancellationToken) is { } order
                ? fetch.ChannelStatus == "AWAITING_SHIPMENT"
                    ? OrderEvents.Placed(context, order, fetch.OccurredAt)
                    : OrderEvents.Updated(context, order, fetch.OccurredAt)
                : null;
        }
    }

    private async Task PublishAsync(PublishItem item, OrderEvent? fetched, CancellationToken cancellationToken)
    {
        var row = item.Row;
        var events = new List<OrderEvent>(item.Result.Events);
        if (fetched is not null)
        {
            events.Add(fetched);
        }

        await _rawEncoder.EnsureRegisteredAsync(cancellationToken);
        await _orderEncoder.EnsureRegisteredAsync(cancellationToken);
        var rawValue = IngestAvro.RawRecordWritable
            ? _rawEncoder.Encode((row, item.Result.CorrelationId), static (w, s) => IngestAvro.WriteRawRecord(w, s.row, s.CorrelationId))
            : _rawEncoder.Encode(ToRawRecord(row, item.Result.CorrelationId));
        var orderValues = new List<(string Key, byte[] Value)>(events.Count);
        foreach (var e in events)
        {
            orderValues.Add((e.metadata.pool_id, IngestAvro.OrderEventWritable
                ? _orderEncoder.Encode(e, static (w, v) => IngestAvro.WriteOrderEvent(w, v))
                : _orderEncoder.Encode(e)));
            if (UnknownSkuLines(e) is > 0 and var unknown)
            {
                ConnectorMetrics.UnknownSkuLines.WithLabels(row.Source).Inc(unknown);
            }
        }

        var tracker = new Tracker(this, row.Id, 1 + orderValues.Count);
        await ProduceAsync(_options.RawIngestTopic, $"{row.Source}:{row.DeliveryId}", rawValue, tracker, cancellationToken);
        foreach (var (key, value) in orderValues)
        {
            await ProduceAsync(_options.OrdersTopic, key, value, tracker, cancellationToken);
        }
    }

    private async Task ProduceAsync(string topic, string key, byte[] value, Tracker tracker, CancellationToken cancellationToken)
    {
        var message = new Message<string, byte[]> { Key = key, Value = value };
        while (true)
        {
            try
            {
                _producer.Produce(topic, message, report => tracker.Report(report.Error.IsError ? report.Error : null, topic));
                return;
            }
            catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                await Task.Delay(5, cancellationToken);
            }
        }
    }

    private void Done(Guid id, bool ok)
    {
        if (_inFlight.TryRemove(id, out _))
        {
            ConnectorMetrics.PublishBacklog.Dec();
        }

        if (ok)
        {
            _store.MarkPublished(id);
        }
        else
        {
            ConnectorMetrics.ProduceFailures.Inc();
        }
    }

    private static int UnknownSkuLines(OrderEvent e) => e.body switch
    {
        OrderPlaced p => p.order.lines.Count(l => l.flags.Contains(OrderLineFlag.UnknownSku)),
        OrderUpdated u => u.order.lines.Count(l => l.flags.Contains(OrderLineFlag.UnknownSku)),
        _ => 0,
    };

    /// <summary>The raw record of a stored delivery (decision 4): body and headers byte for byte, verdict included.</summary>
    public static RawIngestRecord ToRawRecord(RawDeliveryRow row, string? correlationId)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new RawIngestRecord
        {
            metadata = new EventMetadata
            {
                event_id = row.RawEventId,
                pool_id = row.PoolId ?? "unknown",
                correlation_id = correlationId ?? row.DeliveryId,
                causation_id = row.DeliveryId,
                source_system = row.Source,
                source_id = row.DeliveryId,
                occurred_at = row.ReceivedAt,
                recorded_at = row.ReceivedAt,
            },
            source = row.Source,
            delivery_id = row.DeliveryId,
            transport = row.Transport,
            event_type = row.EventType,
            request_method = row.Method,
            request_path = row.Path,
            // Kestrel decodes header bytes as Latin-1 unless told otherwise; encoding back the same way restores them.
            headers = [.. row.Headers.Select(h => new Fulfillment.Schemas.Common.Header { name = h.Key, value = Encoding.Latin1.GetBytes(h.Value) })],
            content_type = row.ContentType,
            body = row.Body,
            received_at = row.ReceivedAt,
            signature_verified = row.SignatureVerified,
            rejection_reason = row.RejectionReason,
        };
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Publishing {Source} delivery {DeliveryId} failed; it stays in Postgres for the sweeper")]
    private static partial void LogPublishFailed(ILogger logger, string source, string deliveryId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka record for delivery {RowId} on {Topic} failed: {Reason}")]
    private static partial void LogRecordFailed(ILogger logger, Guid rowId, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A compiled-in Avro schema differs from the one IngestAvro was written for; records are encoded with the slower generic writer until IngestAvro is updated")]
    private static partial void LogGenericAvro(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, ErrorCode code, string reason);

    /// <summary>Counts acknowledgements of one delivery's records; the last one decides.</summary>
    private sealed class Tracker(EventPublisher owner, Guid id, int expected)
    {
        private int _remaining = expected;
        private int _failed;

        public void Report(Error? error, string topic)
        {
            if (error is not null)
            {
                Interlocked.Exchange(ref _failed, 1);
                LogRecordFailed(owner._logger, id, topic, error.Reason);
            }
            else
            {
                ConnectorMetrics.EventsProducedOn(topic).Inc();
            }

            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                owner.Done(id, Volatile.Read(ref _failed) == 0);
            }
        }
    }
}
