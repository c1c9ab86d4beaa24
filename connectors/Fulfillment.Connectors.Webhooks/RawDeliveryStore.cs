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
    // One statement per batch: the rows, their outbox entries, and the ids of the rows that were new (not duplicates of an
    // accepted delivery already stored or earlier in the same batch: ON CONFLICT DO NOTHING skips both). The writer maps
    // the ids back to its batch; numbering the rows in SQL (a second unnest WITH ORDINALITY joined to the result) cost
    // Postgres a function scan, a tuplestore and a hash join per batch.
    private const string InsertRowsSql = """
            INSERT INTO raw_deliveries (id, source, delivery_id, accepted, status, shop_id, pool_id, transport, event_type,
                request_method, request_path, route_shop, content_type, headers, body, received_at, signature_verified, rejection_reason)
            SELECT id, source, delivery_id, accepted, status, shop_id, pool_id, transport, event_type,
                request_method, request_path, route_shop, content_type, headers::jsonb, body, received_at, signature_verified, rejection_reason
            FROM unnest(@id, @source, @delivery_id, @accepted, @status, @shop_id, @pool_id, @transport, @event_type,
                @request_method, @request_path, @route_shop, @content_type, @headers, @body, @received_at, @signature_verified, @rejection_reason)
                AS t(id, source, delivery_id, accepted, status, shop_id, pool_id, transport, event_type,
                request_method, request_path, route_shop, content_type, headers, body, received_at, signature_verified, rejection_reason)
        """;

    private const string GuardedInsertSql = $"""
        WITH stored AS ({InsertRowsSql}
            ON CONFLICT (source, delivery_id) WHERE accepted DO NOTHING
            RETURNING id),
        queued AS (INSERT INTO raw_unpublished (id) SELECT id FROM stored)
        SELECT id FROM stored
        """;

    // The same without ON CONFLICT, for batches expected to hold no duplicate: every accepted row then skips the arbiter
    // index probe before its insert and the speculative-insertion lock and confirmation record (the unique index still
    // checks, in the same descent that inserts the entry). A duplicate fails the whole statement (unique_violation, the
    // statement's transaction rolls back) and the batch is stored again with GuardedInsertSql.
    private const string PlainInsertSql = $"""
        WITH stored AS ({InsertRowsSql}
            RETURNING id),
        queued AS (INSERT INTO raw_unpublished (id) SELECT id FROM stored)
        SELECT id FROM stored
        """;

    // The outbox-mark connection's settings. Losing a mark in a crash only means a republish (same event ids, consumers
    // deduplicate), so its commits do not wait for their WAL flush. And its DELETE must always probe the primary key: the
    // outbox is a queue whose rows are inserted and deleted thousands of times a second, so its statistics are stale
    // most of the time, and the prepared statement's generic plan, made while the table looked small, scanned the whole
    // table (dead rows included) for every batch of marks: a third of the Postgres backends' CPU in bench webhooks.
    internal const string MarkSessionSql = "SET synchronous_commit = off; SET enable_seqscan = off";

    private static readonly TimeSpan MarkInterval = TimeSpan.FromMilliseconds(100);

    internal const string MarkPublishedSql = "DELETE FROM raw_unpublished WHERE id = ANY($1)";

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
    /// <param name="cancellationToken">Checked before the row is queued only: a queued row is stored whatever the caller
    /// does, within milliseconds, so the wait for its commit is not cancellable (a cancellable wait cost every request a
    /// promise and a token registration).</param>
    public Task<bool> InsertAsync(RawDeliveryRow row, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingInsert(row);
        if (!_inserts.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The raw delivery store is shutting down.");
        }

        return pending.Completion.Task;
    }

    /// <summary>The smallest UUIDv7 of the given millisecond: ids of rows created earlier sort below it (Postgres compares
    /// uuids bytewise, and a version 7 uuid starts with its big-endian Unix time in milliseconds).</summary>
    public static Guid Version7Floor(DateTime time)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ms = Math.Max(0, new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes, ms << 16);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>Records (batched, asynchronously) that the row's records are on Kafka.</summary>
    public void MarkPublished(Guid id) => _published.Writer.TryWrite(id);

    /// <summary>Rows never confirmed on Kafka, stored before <paramref name="receivedBefore"/>, oldest first.</summary>
    public async Task<IReadOnlyList<RawDeliveryRow>> LoadUnpublishedAsync(DateTime receivedBefore, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT r.id, r.source, r.delivery_id, r.accepted, r.status, r.shop_id, r.pool_id, r.transport, r.event_type, r.request_method,
                   r.request_path, r.route_shop, r.content_type, r.headers::text, r.body, r.received_at, r.signature_verified, r.rejection_reason
            FROM raw_unpublished u JOIN raw_deliveries r ON r.id = u.id
            WHERE u.id < @before ORDER BY u.id LIMIT @limit
            """);
        // Ids of the millisecond of receivedBefore included: a row stored just now is due when SweepAfter is zero.
        command.Parameters.AddWithValue("before", Version7Floor(receivedBefore.AddMilliseconds(1)));
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
        // Each writer keeps its own connection with the statement prepared on it: no pool round trip, no session reset and
        // no parse/plan per batch. A failed batch drops the connection; the next batch opens a fresh one.
        InsertWriter? writer = null;
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
                    writer ??= await InsertWriter.OpenAsync(_dataSource, _options.StoreBatchSize, stoppingToken);
                    var inserted = await writer.InsertAsync(batch, stoppingToken);
                    ConnectorMetrics.StoreBatchRows.Observe(batch.Count);
                    for (var i = 0; i < batch.Count; i++)
                    {
                        batch[i].Completion.TrySetResult(inserted[i]);
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
                {
                    LogStoreFailed(_logger, batch.Count, e);
                    foreach (var item in batch)
                    {
                        item.Completion.TrySetException(e);
                    }

                    if (writer is not null)
                    {
                        await writer.DisposeAsync();
                        writer = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (writer is not null)
            {
                await writer.DisposeAsync();
            }
        }
    }

    private async Task WritePublishedAsync(CancellationToken stoppingToken)
    {
        var ids = new List<Guid>();
        NpgsqlConnection? connection = null;
        NpgsqlCommand? delete = null;
        try
        {
            while (await _published.Reader.WaitToReadAsync(CancellationToken.None))
            {
                // Let marks gather: most of a DELETE's cost is per statement (bind, executor start, commit, round trip),
                // and Kafka's acknowledgements arrive in small bursts, one per produce response. A late mark costs nothing
                // (the sweeper only looks at rows SweepAfter old); not cancellable, so marks pending at shutdown are written.
                await Task.Delay(MarkInterval, CancellationToken.None);
                ids.Clear();
                while (ids.Count < 5000 && _published.Reader.TryRead(out var id))
                {
                    ids.Add(id);
                }

                try
                {
                    if (connection is null || delete is null)
                    {
                        connection = await _dataSource.OpenConnectionAsync(stoppingToken);
                        await using (var set = new NpgsqlCommand(MarkSessionSql, connection))
                        {
                            await set.ExecuteNonQueryAsync(stoppingToken);
                        }

                        delete = new NpgsqlCommand(MarkPublishedSql, connection);
                        delete.Parameters.Add(new NpgsqlParameter<Guid[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
                        await delete.PrepareAsync(stoppingToken);
                    }

                    ((NpgsqlParameter<Guid[]>)delete.Parameters[0]).TypedValue = [.. ids];
                    await delete.ExecuteNonQueryAsync(stoppingToken);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
                {
                    // Unmarked rows are republished by the sweeper; their events carry the same ids, so consumers deduplicate.
                    LogMarkFailed(_logger, ids.Count, e);
                    delete?.Dispose();
                    delete = null;
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            delete?.Dispose();
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
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

    /// <summary>One writer's connection and its prepared group-commit statement. The statement takes one array per column
    /// (unnest), so a batch is one round trip whatever its size, and reports each row's ordinal if it was new.</summary>
    private sealed class InsertWriter : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlCommand _plain;
        private readonly NpgsqlCommand _guarded;
        private readonly bool[] _inserted;
        private readonly Dictionary<Guid, int> _index;
        private readonly HashSet<(string?, string?)> _acceptedKeys;

        // Set when a plain insert met a duplicate already stored, cleared by a guarded batch that met none: while senders
        // retry deliveries that were stored already (after an outage, say), batches go straight to the guarded statement
        // instead of failing first.
        private bool _duplicatesExpected;

        private InsertWriter(NpgsqlConnection connection, NpgsqlCommand plain, NpgsqlCommand guarded, int capacity)
        {
            _connection = connection;
            _plain = plain;
            _guarded = guarded;
            _inserted = new bool[capacity];
            _index = new Dictionary<Guid, int>(capacity);
            _acceptedKeys = new HashSet<(string?, string?)>(capacity);
        }

        public static async Task<InsertWriter> OpenAsync(NpgsqlDataSource dataSource, int capacity, CancellationToken cancellationToken)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                var plain = await PrepareAsync(connection, PlainInsertSql, cancellationToken);
                var guarded = await PrepareAsync(connection, GuardedInsertSql, cancellationToken);
                return new InsertWriter(connection, plain, guarded, capacity);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        private static async Task<NpgsqlCommand> PrepareAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
        {
            var command = new NpgsqlCommand(sql, connection);
            try
            {
                var p = command.Parameters;
                p.Add(new NpgsqlParameter<Guid[]>("id", NpgsqlDbType.Array | NpgsqlDbType.Uuid));
                foreach (var name in (string[])["source", "delivery_id"])
                {
                    p.Add(new NpgsqlParameter<string?[]>(name, NpgsqlDbType.Array | NpgsqlDbType.Text));
                }

                p.Add(new NpgsqlParameter<bool[]>("accepted", NpgsqlDbType.Array | NpgsqlDbType.Boolean));
                foreach (var name in (string[])["status", "shop_id", "pool_id", "transport", "event_type", "request_method", "request_path", "route_shop", "content_type", "headers"])
                {
                    p.Add(new NpgsqlParameter<string?[]>(name, NpgsqlDbType.Array | NpgsqlDbType.Text));
                }

                p.Add(new NpgsqlParameter<byte[][]>("body", NpgsqlDbType.Array | NpgsqlDbType.Bytea));
                p.Add(new NpgsqlParameter<DateTime[]>("received_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz));
                p.Add(new NpgsqlParameter<bool[]>("signature_verified", NpgsqlDbType.Array | NpgsqlDbType.Boolean));
                p.Add(new NpgsqlParameter<string?[]>("rejection_reason", NpgsqlDbType.Array | NpgsqlDbType.Text));
                await command.PrepareAsync(cancellationToken);
                return command;
            }
            catch
            {
                await command.DisposeAsync();
                throw;
            }
        }

        /// <summary>Stores the batch in one statement (its own transaction, committed durably); element i says whether
        /// row i was new. Plain INSERT when no duplicate is expected, guarded by ON CONFLICT otherwise or when the plain one
        /// met a duplicate.</summary>
        public async Task<bool[]> InsertAsync(List<PendingInsert> batch, CancellationToken cancellationToken)
        {
            var n = batch.Count;
            var id = new Guid[n];
            var source = new string?[n];
            var deliveryId = new string?[n];
            var accepted = new bool[n];
            var status = new string?[n];
            var shopId = new string?[n];
            var poolId = new string?[n];
            var transport = new string?[n];
            var eventType = new string?[n];
            var method = new string?[n];
            var path = new string?[n];
            var routeShop = new string?[n];
            var contentType = new string?[n];
            var headers = new string?[n];
            var body = new byte[n][];
            var receivedAt = new DateTime[n];
            var signatureVerified = new bool[n];
            var rejectionReason = new string?[n];
            for (var i = 0; i < n; i++)
            {
                var r = batch[i].Row;
                id[i] = r.Id;
                source[i] = r.Source;
                deliveryId[i] = r.DeliveryId;
                accepted[i] = r.Accepted;
                status[i] = StatusName(r.Status);
                shopId[i] = r.ShopId;
                poolId[i] = r.PoolId;
                transport[i] = TransportName(r.Transport);
                eventType[i] = r.EventType;
                method[i] = r.Method;
                path[i] = r.Path;
                routeShop[i] = r.RouteShop;
                contentType[i] = r.ContentType;
                headers[i] = r.HeadersJson();
                body[i] = r.Body;
                receivedAt[i] = r.ReceivedAt;
                signatureVerified[i] = r.SignatureVerified;
                rejectionReason[i] = r.RejectionReason;
            }

            // Two accepted rows with the same key in one batch: only ON CONFLICT stores the first and skips the second.
            _acceptedKeys.Clear();
            var duplicateInBatch = false;
            for (var i = 0; i < n && !duplicateInBatch; i++)
            {
                duplicateInBatch = accepted[i] && !_acceptedKeys.Add((source[i], deliveryId[i]));
            }

            var inserted = _inserted.Length >= n ? _inserted : new bool[n];
            _index.Clear();
            for (var i = 0; i < n; i++)
            {
                _index[id[i]] = i;
            }

            object?[] values = [id, source, deliveryId, accepted, status, shopId, poolId, transport, eventType, method, path, routeShop,
                contentType, headers, body, receivedAt, signatureVerified, rejectionReason];
            if (!duplicateInBatch && !_duplicatesExpected)
            {
                try
                {
                    await ExecuteAsync(_plain, values, inserted, n, cancellationToken);
                    return inserted;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    _duplicatesExpected = true;
                }
            }

            var stored = await ExecuteAsync(_guarded, values, inserted, n, cancellationToken);
            if (!duplicateInBatch)
            {
                _duplicatesExpected = stored < n;
            }

            return inserted;
        }

        /// <summary>Runs one of the two statements on the batch's arrays; marks the rows it stored and counts them.</summary>
        private async Task<int> ExecuteAsync(NpgsqlCommand command, object?[] values, bool[] inserted, int n, CancellationToken cancellationToken)
        {
            var p = command.Parameters;
            for (var i = 0; i < values.Length; i++)
            {
                p[i].Value = values[i];
            }

            Array.Clear(inserted, 0, n);
            var stored = 0;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    inserted[_index[reader.GetGuid(0)]] = true;
                    stored++;
                }
            }

            return stored;
        }

        public async ValueTask DisposeAsync()
        {
            await _plain.DisposeAsync();
            await _guarded.DisposeAsync();
            await _connection.DisposeAsync();
        }

        private static string StatusName(DeliveryStatus status) => status switch
        {
            DeliveryStatus.Accepted => nameof(DeliveryStatus.Accepted),
            _ => status.ToString(),
        };

        private static string TransportName(IngestTransport transport) => transport switch
        {
            IngestTransport.Webhook => nameof(IngestTransport.Webhook),
            _ => transport.ToString(),
        };
    }
}
