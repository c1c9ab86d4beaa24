using System.Threading.Channels;
using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.Ingest;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// Durable store and dedupe index of raw deliveries in Postgres. Inserts from concurrent requests are group-committed:
/// one multi-row INSERT … ON CONFLICT DO NOTHING per batch keeps thousands of deliveries a second to a few fsyncs, and
/// each request learns whether its row was new (or a duplicate of an accepted delivery) only after the commit.
/// </summary>
public sealed partial class RawDeliveryStore : BackgroundService
{
    // One statement per batch: the rows, their outbox entries, and which rows were new (not duplicates of an accepted
    // delivery already stored or earlier in the same batch: ON CONFLICT DO NOTHING skips both).
    private const string InsertSql = """
        WITH stored AS (
            INSERT INTO raw_deliveries (id, source, delivery_id, accepted, status, shop_id, pool_id, transport, event_type,
                request_method, request_path, route_shop, content_type, headers, body, received_at, signature_verified, rejection_reason)
            SELECT id, source, delivery_id, accepted, status, shop_id, pool_id, transport, event_type,
                request_method, request_path, route_shop, content_type, headers::jsonb, body, received_at, signature_verified, rejection_reason
            FROM unnest(@id, @source, @delivery_id, @accepted, @status, @shop_id, @pool_id, @transport, @event_type,
                @request_method, @request_path, @route_shop, @content_type, @headers, @body, @received_at, @signature_verified, @rejection_reason)
                AS t(id, source, delivery_id, accepted, status, shop_id, pool_id, transport, event_type,
                request_method, request_path, route_shop, content_type, headers, body, received_at, signature_verified, rejection_reason)
            ON CONFLICT (source, delivery_id) WHERE accepted DO NOTHING
            RETURNING id, received_at),
        queued AS (INSERT INTO raw_unpublished (id, received_at) SELECT id, received_at FROM stored)
        SELECT id FROM stored
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly ConnectorOptions _options;
    private readonly ILogger<RawDeliveryStore> _logger;
    private readonly Channel<PendingInsert> _inserts = Channel.CreateUnbounded<PendingInsert>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Channel<Guid> _published = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });

    public RawDeliveryStore(NpgsqlDataSource dataSource, IOptions<ConnectorOptions> options, ILogger<RawDeliveryStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Stores the row durably. False when an accepted delivery with the same (source, delivery id) is already stored.</summary>
    public Task<bool> InsertAsync(RawDeliveryRow row, CancellationToken cancellationToken)
    {
        var pending = new PendingInsert(row);
        if (!_inserts.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The raw delivery store is shutting down.");
        }

        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Records (batched, asynchronously) that the row's records are on Kafka.</summary>
    public void MarkPublished(Guid id) => _published.Writer.TryWrite(id);

    /// <summary>Rows never confirmed on Kafka, received before <paramref name="receivedBefore"/>, oldest first.</summary>
    public async Task<IReadOnlyList<RawDeliveryRow>> LoadUnpublishedAsync(DateTime receivedBefore, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT r.id, r.source, r.delivery_id, r.accepted, r.status, r.shop_id, r.pool_id, r.transport, r.event_type, r.request_method,
                   r.request_path, r.route_shop, r.content_type, r.headers::text, r.body, r.received_at, r.signature_verified, r.rejection_reason
            FROM raw_unpublished u JOIN raw_deliveries r ON r.id = u.id
            WHERE u.received_at < @before ORDER BY u.received_at LIMIT @limit
            """);
        command.Parameters.AddWithValue("before", receivedBefore);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<RawDeliveryRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new RawDeliveryRow(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), Enum.Parse<DeliveryStatus>(reader.GetString(4)),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                Enum.Parse<IngestTransport>(reader.GetString(7)), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetString(9), reader.GetString(10), reader.IsDBNull(11) ? null : reader.GetString(11),
                reader.IsDBNull(12) ? null : reader.GetString(12), RawDeliveryRow.ParseHeaders(reader.GetString(13)),
                (byte[])reader[14], DateTime.SpecifyKind(reader.GetDateTime(15), DateTimeKind.Utc), reader.GetBoolean(16),
                reader.IsDBNull(17) ? null : reader.GetString(17)));
        }

        return rows;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var writers = Enumerable.Range(0, _options.StoreWriters).Select(_ => Task.Run(() => WriteInsertsAsync(stoppingToken), stoppingToken));
        return Task.WhenAll([.. writers, Task.Run(() => WritePublishedAsync(stoppingToken), stoppingToken)]);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Let requests already waiting for their commit get it before the host goes away.
        _inserts.Writer.TryComplete();
        _published.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private async Task WriteInsertsAsync(CancellationToken stoppingToken)
    {
        var batch = new List<PendingInsert>(_options.StoreBatchSize);
        try
        {
            while (await _inserts.Reader.WaitToReadAsync(CancellationToken.None))
            {
                batch.Clear();
                while (batch.Count < _options.StoreBatchSize && _inserts.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                try
                {
                    var inserted = await InsertBatchAsync(batch, stoppingToken);
                    ConnectorMetrics.StoreBatchRows.Observe(batch.Count);
                    foreach (var item in batch)
                    {
                        item.Completion.TrySetResult(inserted.Contains(item.Row.Id));
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
                {
                    LogStoreFailed(_logger, batch.Count, e);
                    foreach (var item in batch)
                    {
                        item.Completion.TrySetException(e);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<HashSet<Guid>> InsertBatchAsync(List<PendingInsert> batch, CancellationToken cancellationToken)
    {
        var rows = batch.Select(b => b.Row).ToList();
        await using var command = _dataSource.CreateCommand(InsertSql);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<Guid[]>("id", [.. rows.Select(r => r.Id)]));
        p.Add(Text("source", rows.Select(r => r.Source)));
        p.Add(Text("delivery_id", rows.Select(r => r.DeliveryId)));
        p.Add(new NpgsqlParameter<bool[]>("accepted", [.. rows.Select(r => r.Accepted)]));
        p.Add(Text("status", rows.Select(r => r.Status.ToString())));
        p.Add(Text("shop_id", rows.Select(r => r.ShopId)));
        p.Add(Text("pool_id", rows.Select(r => r.PoolId)));
        p.Add(Text("transport", rows.Select(r => r.Transport.ToString())));
        p.Add(Text("event_type", rows.Select(r => r.EventType)));
        p.Add(Text("request_method", rows.Select(r => r.Method)));
        p.Add(Text("request_path", rows.Select(r => r.Path)));
        p.Add(Text("route_shop", rows.Select(r => r.RouteShop)));
        p.Add(Text("content_type", rows.Select(r => r.ContentType)));
        p.Add(Text("headers", rows.Select(r => r.HeadersJson())));
        p.Add(new NpgsqlParameter("body", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = rows.Select(r => r.Body).ToArray() });
        p.Add(new NpgsqlParameter("received_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = rows.Select(r => r.ReceivedAt).ToArray() });
        p.Add(new NpgsqlParameter<bool[]>("signature_verified", [.. rows.Select(r => r.SignatureVerified)]));
        p.Add(Text("rejection_reason", rows.Select(r => r.RejectionReason)));

        var inserted = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            inserted.Add(reader.GetGuid(0));
        }

        return inserted;
    }

    private static NpgsqlParameter Text(string name, IEnumerable<string?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.ToArray() };

    private async Task WritePublishedAsync(CancellationToken stoppingToken)
    {
        var ids = new List<Guid>();
        try
        {
            while (await _published.Reader.WaitToReadAsync(CancellationToken.None))
            {
                ids.Clear();
                while (ids.Count < 5000 && _published.Reader.TryRead(out var id))
                {
                    ids.Add(id);
                }

                try
                {
                    // Losing this mark in a crash only means a republish (same event ids, consumers deduplicate), so it
                    // does not wait for its WAL flush: both statements run in the batch's one implicit transaction.
                    await using var batch = _dataSource.CreateBatch();
                    batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('synchronous_commit', 'off', true)"));
                    var delete = new NpgsqlBatchCommand("DELETE FROM raw_unpublished WHERE id = ANY($1)");
                    delete.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids] });
                    batch.BatchCommands.Add(delete);
                    await batch.ExecuteNonQueryAsync(stoppingToken);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
                {
                    // Unmarked rows are republished by the sweeper; their events carry the same ids, so consumers deduplicate.
                    LogMarkFailed(_logger, ids.Count, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} raw deliveries in Postgres failed; their requests are answered 503")]
    private static partial void LogStoreFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marking {Count} raw deliveries as published failed; the sweeper will republish them")]
    private static partial void LogMarkFailed(ILogger logger, int count, Exception exception);

    private sealed record PendingInsert(RawDeliveryRow Row)
    {
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
