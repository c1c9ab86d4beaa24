using System.Text.Json;
using Npgsql;

namespace Fulfillment.Sinks.Views.Projection;

/// <summary>
/// Writes the views in two tracks, each exactly-once with respect to the topics because each stores the offsets it
/// consumed in the same transaction as its rows (a crash before commit leaves neither; after commit both):
/// <list type="bullet">
/// <item>the state track (<see cref="WriteAsync"/>, offsets under the consumer name): every view row — orders, stock,
/// allocations, shipments, pushes, transfers, operator state, rejects, the durable archive;</item>
/// <item>the audit track (<see cref="WriteAuditAsync"/>, offsets under <see cref="AuditConsumer"/>): the <c>events</c>
/// index the audit timeline reads. It is the largest insert of a batch and nothing in the state track reads it, so the
/// sink commits it in its own, later transaction, and a stock-level change becomes visible without waiting for it.</item>
/// </list>
/// Every statement is idempotent (facts: ON CONFLICT DO NOTHING; states: update only when the incoming version is newer),
/// so re-reading records after a broker re-seed or a replay changes nothing.
/// </summary>
public sealed class ViewWriter(NpgsqlDataSource dataSource, string schema, string consumer)
{
    /// <summary>Suffix of the audit track's consumer name in <c>sink_offsets</c>.</summary>
    public const string AuditSuffix = ".audit";

    private readonly string _schema = SchemaMigrator.CheckSchemaName(schema);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Name under which the audit track stores its offsets.</summary>
    public string AuditConsumer => consumer + AuditSuffix;

    /// <summary>Next offsets stored for <paramref name="topics"/> by the state track.</summary>
    public Task<Dictionary<(string Topic, int Partition), long>> ReadOffsetsAsync(IEnumerable<string> topics, CancellationToken ct) =>
        ReadOffsetsAsync(topics, consumer, ct);

    /// <summary>Next offsets stored for <paramref name="topics"/> under <paramref name="consumerName"/> (a track).</summary>
    public async Task<Dictionary<(string Topic, int Partition), long>> ReadOffsetsAsync(IEnumerable<string> topics, string consumerName, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var command = new NpgsqlCommand(
            $"SELECT topic, partition, next_offset FROM {_schema}.sink_offsets WHERE consumer = @c AND topic = ANY(@t)", connection);
        command.Parameters.AddWithValue("c", consumerName);
        command.Parameters.AddWithValue("t", topics.ToArray());
        var result = new Dictionary<(string, int), long>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[(reader.GetString(0), reader.GetInt32(1))] = reader.GetInt64(2);
        }

        return result;
    }

    /// <summary>State track: writes every view row of the batch except the audit index (<see cref="ViewBatch.Events"/>)
    /// and <see cref="ViewBatch.NextOffsets"/>, atomically.</summary>
    public async Task WriteAsync(ViewBatch batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await BeginAsync(connection, ct);
        await WriteOrdersAsync(connection, tx, batch, ct);
        await WriteAllocationsAsync(connection, tx, batch, ct);
        await WriteShipmentsAsync(connection, tx, batch, ct);
        await WritePushesAsync(connection, tx, batch, ct);
        await WriteStockAsync(connection, tx, batch, ct);
        await WriteTransfersAsync(connection, tx, batch, ct);
        await WriteOperatorStateAsync(connection, tx, batch, ct);
        await WriteArchiveAsync(connection, tx, batch, ct);
        await RefreshOrderStatusAsync(connection, tx, batch, ct);
        await WriteOffsetsAsync(connection, tx, consumer, batch.NextOffsets, ct);

        await tx.CommitAsync(ct);
    }

    /// <summary>Audit track: writes audit index rows and the offsets they were read up to, atomically.</summary>
    public async Task WriteAuditAsync(IReadOnlyCollection<EventRow> events, IReadOnlyDictionary<(string Topic, int Partition), long> nextOffsets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(nextOffsets);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await BeginAsync(connection, ct);
        await WriteEventsAsync(connection, tx, events, ct);
        await WriteOffsetsAsync(connection, tx, AuditConsumer, nextOffsets, ct);
        await tx.CommitAsync(ct);
    }

    private async Task<NpgsqlTransaction> BeginAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var tx = await connection.BeginTransactionAsync(ct);
        await using var path = new NpgsqlCommand($"SET LOCAL search_path TO {_schema}", connection, tx);
        await path.ExecuteNonQueryAsync(ct);
        return tx;
    }

    private static async Task Exec(NpgsqlCommand command, CancellationToken ct)
    {
        await using (command)
        {
            // Each table's statement text is the same every batch (rows travel as array parameters), and Npgsql keeps a
            // prepared statement per physical connection across pool returns: parse and plan happen once, not per batch.
            // Postgres re-parses it when search_path differs (replay's schema on the same connection).
            await command.PrepareAsync(ct);
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    private static async Task<HashSet<string>> ExecReturningIds(NpgsqlCommand command, CancellationToken ct)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        await using (command)
        {
            await command.PrepareAsync(ct);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                ids.Add(reader.GetString(0));
            }
        }

        return ids;
    }

    private static Task Insert<T>(NpgsqlConnection c, NpgsqlTransaction tx, string table, IReadOnlyCollection<T> rows, Col<T>[] cols, string tail, CancellationToken ct) =>
        rows.Count == 0 ? Task.CompletedTask : Exec(Bulk.Insert(c, tx, table, rows.ToList(), cols, tail), ct);

    private static Task WriteEventsAsync(NpgsqlConnection c, NpgsqlTransaction tx, IReadOnlyCollection<EventRow> events, CancellationToken ct) =>
        Insert(c, tx, "events", events, [
            new("event_id", ColType.Text, r => r.EventId),
            new("topic", ColType.Text, r => r.Topic),
            new("kind", ColType.Text, r => r.Kind),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("correlation_id", ColType.Text, r => r.CorrelationId),
            new("causation_id", ColType.Text, r => r.CausationId),
            new("source_system", ColType.Text, r => r.SourceSystem),
            new("source_id", ColType.Text, r => r.SourceId),
            new("occurred_at", ColType.Time, r => r.OccurredAt),
            new("recorded_at", ColType.Time, r => r.RecordedAt),
            new("summary", ColType.Text, r => r.SummaryJson),
        ], "ON CONFLICT (event_id) DO NOTHING", ct);

    private static async Task WriteOrdersAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        if (b.Orders.Count > 0)
        {
            var winners = await ExecReturningIds(Bulk.Insert(c, tx, "orders", b.Orders.Values.ToList(), [
                new("order_id", ColType.Text, r => r.OrderId),
                new("pool_id", ColType.Text, r => r.PoolId),
                new("channel", ColType.Text, r => r.Channel),
                new("shop_id", ColType.Text, r => r.ShopId),
                new("channel_order_id", ColType.Text, r => r.ChannelOrderId),
                new("order_number", ColType.Text, r => r.OrderNumber),
                new("channel_status", ColType.Text, r => r.ChannelStatus),
                new("fulfillment_channel", ColType.Text, r => r.FulfillmentChannel),
                new("service_level", ColType.Text, r => r.ServiceLevel),
                new("currency", ColType.Text, r => r.Currency),
                new("ship_country", ColType.Text, r => r.ShipCountry),
                new("priority", ColType.Int, r => r.Priority),
                new("placed_at", ColType.Time, r => r.PlacedAt),
                new("latest_ship_at", ColType.Time, r => r.LatestShipAt),
                new("version_at", ColType.Time, r => r.VersionAt),
                new("version_event_id", ColType.Text, r => r.VersionEventId),
            ], """
               ON CONFLICT (order_id) DO UPDATE SET
                 pool_id = excluded.pool_id, channel = excluded.channel, shop_id = excluded.shop_id,
                 channel_order_id = excluded.channel_order_id, order_number = excluded.order_number,
                 channel_status = excluded.channel_status, fulfillment_channel = excluded.fulfillment_channel,
                 service_level = excluded.service_level, currency = excluded.currency, ship_country = excluded.ship_country,
                 priority = excluded.priority, placed_at = excluded.placed_at, latest_ship_at = excluded.latest_ship_at,
                 version_at = excluded.version_at, version_event_id = excluded.version_event_id, sunk_at = clock_timestamp()
               WHERE orders.version_at IS NULL
                  OR (orders.version_at, orders.version_event_id) < (excluded.version_at, excluded.version_event_id)
               RETURNING order_id
               """), ct);

            if (winners.Count > 0)
            {
                // The winning order state carries its full line list: replace, so lines removed on the channel go too.
                await using (var delete = new NpgsqlCommand("DELETE FROM order_lines WHERE order_id = ANY(@ids)", c, tx))
                {
                    delete.Parameters.AddWithValue("ids", winners.ToArray());
                    await delete.ExecuteNonQueryAsync(ct);
                }

                // A channel repeating a line id in one order would hit ON CONFLICT twice in one statement: the last one counts.
                var lines = winners.SelectMany(id => b.Orders[id].Lines.GroupBy(l => l.LineId, StringComparer.Ordinal)
                    .Select(g => (OrderId: id, Line: g.Last()))).ToList();
                await Insert(c, tx, "order_lines", lines, [
                    new("order_id", ColType.Text, r => r.OrderId),
                    new("line_id", ColType.Text, r => r.Line.LineId),
                    new("sku", ColType.Text, r => r.Line.Sku),
                    new("quantity", ColType.Int, r => r.Line.Quantity),
                    new("unit_price", ColType.Numeric, r => r.Line.UnitPrice),
                ], "ON CONFLICT (order_id, line_id) DO UPDATE SET sku = excluded.sku, quantity = excluded.quantity, unit_price = excluded.unit_price", ct);
            }
        }

        // A cancellation may arrive before the order itself: it creates the row, and the order state fills it later.
        await Insert(c, tx, "orders", b.Cancels.Values, [
            new("order_id", ColType.Text, r => r.OrderId),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("channel", ColType.Text, r => r.Channel),
            new("shop_id", ColType.Text, r => r.ShopId),
            new("channel_order_id", ColType.Text, r => r.ChannelOrderId),
            new("cancelled_at", ColType.Time, r => r.CancelledAt),
            new("cancel_reason", ColType.Text, r => r.Reason),
        ], """
           ON CONFLICT (order_id) DO UPDATE SET cancelled_at = excluded.cancelled_at, cancel_reason = excluded.cancel_reason,
             sunk_at = clock_timestamp()
           WHERE orders.cancelled_at IS NULL
              OR (orders.cancelled_at, COALESCE(orders.cancel_reason, '')) > (excluded.cancelled_at, COALESCE(excluded.cancel_reason, ''))
           """, ct);
    }

    private static async Task WriteAllocationsAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        if (b.AllocationDecisions.Count > 0)
        {
            // Each decision is its allocation's complete state: the newest in the processor's order wins and replaces
            // the lines of the one before (a backorder fill lists the earlier lines again plus the filled ones).
            var winners = await ExecReturningIds(Bulk.Insert(c, tx, "allocation_decisions", b.AllocationDecisions.Values.ToList(), [
                new("allocation_id", ColType.Text, r => r.AllocationId),
                new("order_id", ColType.Text, r => r.OrderId),
                new("pool_id", ColType.Text, r => r.PoolId),
                new("rule_trail", ColType.TextArray, r => JsonSerializer.Serialize(r.RuleTrail, Json)),
                new("decided_at", ColType.Time, r => r.DecidedAt),
                new("event_id", ColType.Text, r => r.EventId),
                new("recorded_at", ColType.Time, r => r.RecordedAt),
                new("src_partition", ColType.Int, r => r.SrcPartition),
                new("src_offset", ColType.Long, r => r.SrcOffset),
            ], """
               ON CONFLICT (allocation_id) DO UPDATE SET
                 order_id = excluded.order_id, pool_id = excluded.pool_id, rule_trail = excluded.rule_trail,
                 decided_at = excluded.decided_at, event_id = excluded.event_id, recorded_at = excluded.recorded_at,
                 src_partition = excluded.src_partition, src_offset = excluded.src_offset
               WHERE (allocation_decisions.recorded_at, allocation_decisions.src_offset) < (excluded.recorded_at, excluded.src_offset)
               RETURNING allocation_id
               """), ct);

            if (winners.Count > 0)
            {
                await using (var delete = new NpgsqlCommand("DELETE FROM allocation_lines WHERE allocation_id = ANY(@ids)", c, tx))
                {
                    delete.Parameters.AddWithValue("ids", winners.ToArray());
                    await delete.ExecuteNonQueryAsync(ct);
                }

                var lines = winners.SelectMany(id => b.AllocationDecisions[id].Lines
                    .GroupBy(l => (l.LineId, l.LocationId))
                    .Select(g => (D: b.AllocationDecisions[id], L: g.First() with { Quantity = g.Sum(x => x.Quantity) }))).ToList();
                await Insert(c, tx, "allocation_lines", lines, [
                    new("allocation_id", ColType.Text, r => r.D.AllocationId),
                    new("line_id", ColType.Text, r => r.L.LineId),
                    new("location_id", ColType.Text, r => r.L.LocationId),
                    new("order_id", ColType.Text, r => r.D.OrderId),
                    new("pool_id", ColType.Text, r => r.D.PoolId),
                    new("sku", ColType.Text, r => r.L.Sku),
                    new("quantity", ColType.Int, r => r.L.Quantity),
                    new("decided_at", ColType.Time, r => r.D.DecidedAt),
                ], "ON CONFLICT (allocation_id, line_id, location_id) DO NOTHING", ct);
            }
        }

        await Insert(c, tx, "allocation_releases", b.Releases.Values, [
            new("event_id", ColType.Text, r => r.EventId),
            new("line_id", ColType.Text, r => r.LineId),
            new("location_id", ColType.Text, r => r.LocationId),
            new("allocation_id", ColType.Text, r => r.AllocationId),
            new("order_id", ColType.Text, r => r.OrderId),
            new("sku", ColType.Text, r => r.Sku),
            new("quantity", ColType.Int, r => r.Quantity),
            new("reason", ColType.Text, r => r.Reason),
            new("released_at", ColType.Time, r => r.ReleasedAt),
            new("recorded_at", ColType.Time, r => r.RecordedAt),
            new("src_partition", ColType.Int, r => r.SrcPartition),
            new("src_offset", ColType.Long, r => r.SrcOffset),
        ], "ON CONFLICT (event_id, line_id, location_id) DO NOTHING", ct);

        await Insert(c, tx, "backorders", b.Backorders.Values, [
            new("order_id", ColType.Text, r => r.OrderId),
            new("line_id", ColType.Text, r => r.LineId),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("sku", ColType.Text, r => r.Sku),
            new("quantity", ColType.Int, r => r.Quantity),
            new("reason", ColType.Text, r => r.Reason),
            new("rule_trail", ColType.TextArray, r => JsonSerializer.Serialize(r.RuleTrail, Json)),
            new("first_backordered_at", ColType.Time, r => r.FirstBackorderedAt),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], """
           ON CONFLICT (order_id, line_id) DO UPDATE SET
             first_backordered_at = LEAST(backorders.first_backordered_at, excluded.first_backordered_at),
             sku = CASE WHEN (excluded.version_at, excluded.version_event_id) > (backorders.version_at, backorders.version_event_id) THEN excluded.sku ELSE backorders.sku END,
             quantity = CASE WHEN (excluded.version_at, excluded.version_event_id) > (backorders.version_at, backorders.version_event_id) THEN excluded.quantity ELSE backorders.quantity END,
             reason = CASE WHEN (excluded.version_at, excluded.version_event_id) > (backorders.version_at, backorders.version_event_id) THEN excluded.reason ELSE backorders.reason END,
             rule_trail = CASE WHEN (excluded.version_at, excluded.version_event_id) > (backorders.version_at, backorders.version_event_id) THEN excluded.rule_trail ELSE backorders.rule_trail END,
             version_event_id = CASE WHEN (excluded.version_at, excluded.version_event_id) > (backorders.version_at, backorders.version_event_id) THEN excluded.version_event_id ELSE backorders.version_event_id END,
             version_at = GREATEST(backorders.version_at, excluded.version_at)
           """, ct);
    }

    private static async Task WriteShipmentsAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        if (b.Shipments.Count > 0)
        {
            var winners = await ExecReturningIds(Bulk.Insert(c, tx, "shipments", b.Shipments.Values.ToList(), [
                new("shipment_id", ColType.Text, r => r.ShipmentId),
                new("order_id", ColType.Text, r => r.OrderId),
                new("pool_id", ColType.Text, r => r.PoolId),
                new("channel", ColType.Text, r => r.Channel),
                new("shop_id", ColType.Text, r => r.ShopId),
                new("channel_order_id", ColType.Text, r => r.ChannelOrderId),
                new("location_id", ColType.Text, r => r.LocationId),
                new("carrier", ColType.Text, r => r.Carrier),
                new("service", ColType.Text, r => r.Service),
                new("tracking_number", ColType.Text, r => r.TrackingNumber),
                new("tracking_url", ColType.Text, r => r.TrackingUrl),
                new("shipped_at", ColType.Time, r => r.ShippedAt),
                new("version_event_id", ColType.Text, r => r.VersionEventId),
            ], """
               ON CONFLICT (shipment_id) DO UPDATE SET
                 order_id = excluded.order_id, pool_id = excluded.pool_id, channel = excluded.channel, shop_id = excluded.shop_id,
                 channel_order_id = excluded.channel_order_id, location_id = excluded.location_id, carrier = excluded.carrier,
                 service = excluded.service, tracking_number = excluded.tracking_number, tracking_url = excluded.tracking_url,
                 shipped_at = excluded.shipped_at, version_event_id = excluded.version_event_id
               WHERE (shipments.shipped_at, shipments.version_event_id) < (excluded.shipped_at, excluded.version_event_id)
               RETURNING shipment_id
               """), ct);
            if (winners.Count > 0)
            {
                await using (var delete = new NpgsqlCommand("DELETE FROM shipment_lines WHERE shipment_id = ANY(@ids)", c, tx))
                {
                    delete.Parameters.AddWithValue("ids", winners.ToArray());
                    await delete.ExecuteNonQueryAsync(ct);
                }

                // Units of one line split over several entries of a package add up.
                var lines = winners.SelectMany(id => b.Shipments[id].Lines.GroupBy(l => l.LineId, StringComparer.Ordinal)
                    .Select(g => (S: b.Shipments[id], L: new ShipmentLineRow(g.Key, g.First().Sku, g.Sum(x => x.Quantity))))).ToList();
                await Insert(c, tx, "shipment_lines", lines, [
                    new("shipment_id", ColType.Text, r => r.S.ShipmentId),
                    new("line_id", ColType.Text, r => r.L.LineId),
                    new("order_id", ColType.Text, r => r.S.OrderId),
                    new("sku", ColType.Text, r => r.L.Sku),
                    new("quantity", ColType.Int, r => r.L.Quantity),
                ], "ON CONFLICT (shipment_id, line_id) DO NOTHING", ct);
            }
        }

        await Insert(c, tx, "tracking", b.Tracking.Values, [
            new("carrier", ColType.Text, r => r.Carrier),
            new("tracking_number", ColType.Text, r => r.TrackingNumber),
            new("status", ColType.Text, r => r.Status),
            new("raw_status", ColType.Text, r => r.RawStatus),
            new("status_detail", ColType.Text, r => r.StatusDetail),
            new("shipment_id", ColType.Text, r => r.ShipmentId),
            new("order_id", ColType.Text, r => r.OrderId),
            new("estimated_delivery_at", ColType.Time, r => r.EstimatedDeliveryAt),
            new("status_at", ColType.Time, r => r.StatusAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], """
           ON CONFLICT (carrier, tracking_number) DO UPDATE SET
             status = excluded.status, raw_status = excluded.raw_status, status_detail = excluded.status_detail,
             shipment_id = excluded.shipment_id, order_id = excluded.order_id, estimated_delivery_at = excluded.estimated_delivery_at,
             status_at = excluded.status_at, version_event_id = excluded.version_event_id
           WHERE (tracking.status_at, tracking.version_event_id) < (excluded.status_at, excluded.version_event_id)
           """, ct);
    }

    private static async Task WritePushesAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        Col<PushAttemptRow>[] common =
        [
            new("push_id", ColType.Text, r => r.PushId),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("correlation_id", ColType.Text, r => r.CorrelationId),
            new("channel", ColType.Text, r => r.Channel),
            new("shop_id", ColType.Text, r => r.ShopId),
            new("operation", ColType.Text, r => r.Operation),
            new("target_id", ColType.Text, r => r.TargetId),
            new("outcome", ColType.Text, r => r.Outcome),
            new("http_status", ColType.Int, r => r.HttpStatus),
            new("error", ColType.Text, r => r.Error),
            new("next_attempt_at", ColType.Time, r => r.NextAttemptAt),
        ];
        await Insert(c, tx, "channel_push_attempts", b.PushAttempts.Values, [
            .. common,
            new("event_id", ColType.Text, r => r.EventId),
            new("attempt", ColType.Int, r => r.Attempt),
            new("attempted_at", ColType.Time, r => r.AttemptedAt),
        ], "ON CONFLICT (event_id) DO NOTHING", ct);
        await Insert(c, tx, "channel_pushes", b.Pushes.Values, [
            .. common,
            new("attempts", ColType.Int, r => r.Attempt),
            new("last_attempt_at", ColType.Time, r => r.AttemptedAt),
            new("version_event_id", ColType.Text, r => r.EventId),
        ], """
           ON CONFLICT (push_id) DO UPDATE SET
             outcome = excluded.outcome, http_status = excluded.http_status, error = excluded.error,
             next_attempt_at = excluded.next_attempt_at, attempts = excluded.attempts,
             last_attempt_at = excluded.last_attempt_at, version_event_id = excluded.version_event_id
           WHERE (channel_pushes.attempts, channel_pushes.last_attempt_at, channel_pushes.version_event_id)
               < (excluded.attempts, excluded.last_attempt_at, excluded.version_event_id)
           """, ct);
    }

    private static async Task WriteStockAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        await Insert(c, tx, "stock_levels", b.StockLevels.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("sku", ColType.Text, r => r.Sku),
            new("location_id", ColType.Text, r => r.LocationId),
            new("on_hand", ColType.Int, r => r.OnHand),
            new("allocated", ColType.Int, r => r.Allocated),
            new("safety_stock", ColType.Int, r => r.SafetyStock),
            new("available", ColType.Int, r => r.Available),
            new("in_transit", ColType.Int, r => r.InTransit),
            new("channel_available_to_sell", ColType.Json, r => r.ChannelAvailableJson),
            new("changed_at", ColType.Time, r => r.ChangedAt),
            new("event_id", ColType.Text, r => r.EventId),
            new("src_partition", ColType.Int, r => r.SrcPartition),
            new("src_offset", ColType.Long, r => r.SrcOffset),
            new("recorded_at", ColType.Time, r => r.RecordedAt),
        ], """
           ON CONFLICT (pool_id, sku, location_id) DO UPDATE SET
             on_hand = excluded.on_hand, allocated = excluded.allocated, safety_stock = excluded.safety_stock,
             available = excluded.available, in_transit = excluded.in_transit,
             channel_available_to_sell = excluded.channel_available_to_sell, changed_at = excluded.changed_at,
             event_id = excluded.event_id, src_partition = excluded.src_partition, src_offset = excluded.src_offset,
             recorded_at = excluded.recorded_at, sunk_at = clock_timestamp()
           WHERE (stock_levels.recorded_at, stock_levels.src_offset) < (excluded.recorded_at, excluded.src_offset)
           """, ct);

        await Insert(c, tx, "stock_drift", b.Drift.Values, [
            new("event_id", ColType.Text, r => r.EventId),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("sku", ColType.Text, r => r.Sku),
            new("location_id", ColType.Text, r => r.LocationId),
            new("expected_on_hand", ColType.Int, r => r.ExpectedOnHand),
            new("reported_on_hand", ColType.Int, r => r.ReportedOnHand),
            new("drift", ColType.Int, r => r.Drift),
            new("detected_by", ColType.Text, r => r.DetectedBy),
            new("detected_at", ColType.Time, r => r.DetectedAt),
        ], "ON CONFLICT (event_id) DO NOTHING", ct);
    }

    private static async Task WriteTransfersAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        foreach (var (rows, atColumn, quantityColumn) in new[]
                 {
                     (b.TransfersRequested, "requested_at", "requested_quantity"),
                     (b.TransfersShipped, "shipped_at", "shipped_quantity"),
                     (b.TransfersReceived, "received_at", "received_quantity"),
                 })
        {
            if (rows.Count == 0)
            {
                continue;
            }

            var shipped = atColumn == "shipped_at";
            Col<TransferRow>[] cols =
            [
                new("transfer_id", ColType.Text, r => r.TransferId),
                new("pool_id", ColType.Text, r => r.PoolId),
                new("from_location_id", ColType.Text, r => r.FromLocationId),
                new("to_location_id", ColType.Text, r => r.ToLocationId),
                new(atColumn, ColType.Time, r => r.At),
                .. shipped
                    ? new Col<TransferRow>[] { new("carrier", ColType.Text, r => r.Carrier), new("tracking_number", ColType.Text, r => r.TrackingNumber) }
                    : [],
            ];
            // Each stage owns its own columns and keeps its earliest event, so arrival order does not matter.
            var set = $"{atColumn} = LEAST(transfers.{atColumn}, excluded.{atColumn})"
                + (shipped ? ", carrier = COALESCE(transfers.carrier, excluded.carrier), tracking_number = COALESCE(transfers.tracking_number, excluded.tracking_number)" : "");
            await Insert(c, tx, "transfers", rows.Values, cols, $"ON CONFLICT (transfer_id) DO UPDATE SET {set}", ct);

            var lines = rows.Values.SelectMany(t => t.Lines
                    .GroupBy(l => l.Sku, StringComparer.Ordinal)
                    .Select(g => (t.TransferId, Sku: g.Key, Quantity: g.Sum(x => x.Quantity))))
                .ToList();
            await Insert(c, tx, "transfer_lines", lines, [
                new("transfer_id", ColType.Text, r => r.TransferId),
                new("sku", ColType.Text, r => r.Sku),
                new(quantityColumn, ColType.Int, r => r.Quantity),
            ], $"ON CONFLICT (transfer_id, sku) DO UPDATE SET {quantityColumn} = excluded.{quantityColumn}", ct);
        }
    }

    private static async Task WriteOperatorStateAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        const string Newer = "(excluded.version_at, excluded.version_event_id)";
        await Insert(c, tx, "dead_letters", b.DeadLetters.Values, [
            new("event_id", ColType.Text, r => r.EventId),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("correlation_id", ColType.Text, r => r.CorrelationId),
            new("source_topic", ColType.Text, r => r.SourceTopic),
            new("source_partition", ColType.Int, r => r.SourcePartition),
            new("source_offset", ColType.Long, r => r.SourceOffset),
            new("reason", ColType.Text, r => r.Reason),
            new("error_type", ColType.Text, r => r.ErrorType),
            new("consumer_group", ColType.Text, r => r.ConsumerGroup),
            new("failed_at", ColType.Time, r => r.FailedAt),
        ], "ON CONFLICT (event_id) DO NOTHING", ct);

        await Insert(c, tx, "locations", b.Locations.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("location_id", ColType.Text, r => r.LocationId),
            new("name", ColType.Text, r => r.Name),
            new("kind", ColType.Text, r => r.Kind),
            new("active", ColType.Bool, r => r.Active),
            new("country_code", ColType.Text, r => r.CountryCode),
            new("countries_served", ColType.TextArray, r => JsonSerializer.Serialize(r.CountriesServed, Json)),
            new("priority", ColType.Int, r => r.Priority),
            new("provider", ColType.Text, r => r.Provider),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], $"""
            ON CONFLICT (pool_id, location_id) DO UPDATE SET name = excluded.name, kind = excluded.kind, active = excluded.active,
              country_code = excluded.country_code, countries_served = excluded.countries_served, priority = excluded.priority,
              provider = excluded.provider, version_at = excluded.version_at, version_event_id = excluded.version_event_id
            WHERE (locations.version_at, locations.version_event_id) < {Newer}
            """, ct);

        await Insert(c, tx, "routing_rules", b.Routing.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("channel", ColType.Text, r => r.Channel),
            new("shop_id", ColType.Text, r => r.ShopId),
            new("rules", ColType.Json, r => r.RulesJson),
            new("allow_split", ColType.Bool, r => r.AllowSplit),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], $"""
            ON CONFLICT (pool_id, channel, shop_id) DO UPDATE SET rules = excluded.rules, allow_split = excluded.allow_split,
              version_at = excluded.version_at, version_event_id = excluded.version_event_id
            WHERE (routing_rules.version_at, routing_rules.version_event_id) < {Newer}
            """, ct);

        await Insert(c, tx, "safety_stock", b.SafetyStock.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("sku", ColType.Text, r => r.Sku),
            new("location_id", ColType.Text, r => r.LocationId),
            new("quantity", ColType.Int, r => r.Quantity),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], $"""
            ON CONFLICT (pool_id, sku, location_id) DO UPDATE SET quantity = excluded.quantity,
              version_at = excluded.version_at, version_event_id = excluded.version_event_id
            WHERE (safety_stock.version_at, safety_stock.version_event_id) < {Newer}
            """, ct);

        await Insert(c, tx, "bundles", b.Bundles.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("bundle_sku", ColType.Text, r => r.BundleSku),
            new("components", ColType.Json, r => r.ComponentsJson),
            new("removed", ColType.Bool, r => r.Removed),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], $"""
            ON CONFLICT (pool_id, bundle_sku) DO UPDATE SET components = excluded.components, removed = excluded.removed,
              version_at = excluded.version_at, version_event_id = excluded.version_event_id
            WHERE (bundles.version_at, bundles.version_event_id) < {Newer}
            """, ct);

        await Insert(c, tx, "channel_locations", b.ChannelLocations.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("channel", ColType.Text, r => r.Channel),
            new("shop_id", ColType.Text, r => r.ShopId),
            new("all_locations", ColType.Bool, r => r.AllLocations),
            new("location_ids", ColType.TextArray, r => JsonSerializer.Serialize(r.LocationIds, Json)),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], $"""
            ON CONFLICT (pool_id, channel, shop_id) DO UPDATE SET all_locations = excluded.all_locations,
              location_ids = excluded.location_ids, version_at = excluded.version_at, version_event_id = excluded.version_event_id
            WHERE (channel_locations.version_at, channel_locations.version_event_id) < {Newer}
            """, ct);

        await Insert(c, tx, "pool_settings", b.PoolSettings.Values, [
            new("pool_id", ColType.Text, r => r.PoolId),
            new("allow_oversell", ColType.Bool, r => r.AllowOversell),
            new("allow_split", ColType.Bool, r => r.AllowSplit),
            new("backorder_policy", ColType.Text, r => r.BackorderPolicy),
            new("version_at", ColType.Time, r => r.VersionAt),
            new("version_event_id", ColType.Text, r => r.VersionEventId),
        ], $"""
            ON CONFLICT (pool_id) DO UPDATE SET allow_oversell = excluded.allow_oversell, allow_split = excluded.allow_split,
              backorder_policy = excluded.backorder_policy, version_at = excluded.version_at, version_event_id = excluded.version_event_id
            WHERE (pool_settings.version_at, pool_settings.version_event_id) < {Newer}
            """, ct);

        await Insert(c, tx, "stock_movements", b.Movements.Values, [
            new("event_id", ColType.Text, r => r.EventId),
            new("pool_id", ColType.Text, r => r.PoolId),
            new("sku", ColType.Text, r => r.Sku),
            new("location_id", ColType.Text, r => r.LocationId),
            new("kind", ColType.Text, r => r.Kind),
            new("quantity", ColType.Int, r => r.Quantity),
            new("on_hand_after", ColType.Int, r => r.OnHandAfter),
            new("reference", ColType.Text, r => r.Reference),
            new("reason_code", ColType.Text, r => r.ReasonCode),
            new("moved_at", ColType.Time, r => r.MovedAt),
        ], "ON CONFLICT (event_id) DO NOTHING", ct);

        await Insert(c, tx, "sink_rejects", b.Rejects.Values, [
            new("topic", ColType.Text, r => r.Topic),
            new("partition", ColType.Int, r => r.Partition),
            new("kafka_offset", ColType.Long, r => r.Offset),
            new("error", ColType.Text, r => r.Error),
        ], "ON CONFLICT (topic, partition, kafka_offset) DO NOTHING", ct);
    }

    /// <summary>
    /// The archive carries whole record values (raw webhook bodies of several KB), and as <c>unnest</c> array parameters
    /// they were the state transaction's largest statement (bench e2e: bind 277 ms + execute 1,012 ms of a 1,250-order
    /// batch). Binary COPY into a transaction-scoped staging table, then one INSERT … ON CONFLICT from it, did the same
    /// rows in about half the time (2,500 rows of 4.8 KB: 200–450 ms against 450–1,300 ms, same machine and load).
    /// The ordinal keeps <c>seq</c> (the re-seed order) in batch order.
    /// </summary>
    private static async Task WriteArchiveAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        if (b.Archive.Count == 0)
        {
            return;
        }

        await using (var create = new NpgsqlCommand(
            "CREATE TEMP TABLE archive_in (n int, topic text, event_id text, pool_id text, key bytea, value bytea, headers jsonb, timestamp_ms bigint) ON COMMIT DROP",
            c, tx))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        await using (var copy = await c.BeginBinaryImportAsync(
            "COPY pg_temp.archive_in (n, topic, event_id, pool_id, key, value, headers, timestamp_ms) FROM STDIN (FORMAT BINARY)", ct))
        {
            var n = 0;
            foreach (var r in b.Archive.Values)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(n++, NpgsqlTypes.NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(r.Topic, NpgsqlTypes.NpgsqlDbType.Text, ct);
                await copy.WriteAsync(r.EventId, NpgsqlTypes.NpgsqlDbType.Text, ct);
                await copy.WriteAsync(r.PoolId, NpgsqlTypes.NpgsqlDbType.Text, ct);
                if (r.Key is null)
                {
                    await copy.WriteNullAsync(ct);
                }
                else
                {
                    await copy.WriteAsync(r.Key, NpgsqlTypes.NpgsqlDbType.Bytea, ct);
                }

                await copy.WriteAsync(r.Value, NpgsqlTypes.NpgsqlDbType.Bytea, ct);
                await copy.WriteAsync(r.HeadersJson, NpgsqlTypes.NpgsqlDbType.Jsonb, ct);
                await copy.WriteAsync(r.TimestampMs, NpgsqlTypes.NpgsqlDbType.Bigint, ct);
            }

            await copy.CompleteAsync(ct);
        }

        await using var insert = new NpgsqlCommand($"""
            INSERT INTO {SchemaMigrator.DurableSchema}.topic_archive (topic, event_id, pool_id, key, value, headers, timestamp_ms)
            SELECT topic, event_id, pool_id, key, value, headers, timestamp_ms FROM pg_temp.archive_in ORDER BY n
            ON CONFLICT (topic, event_id) DO NOTHING
            """, c, tx);
        await insert.ExecuteNonQueryAsync(ct);
    }

    private static async Task RefreshOrderStatusAsync(NpgsqlConnection c, NpgsqlTransaction tx, ViewBatch b, CancellationToken ct)
    {
        if (b.TouchedOrders.Count == 0)
        {
            return;
        }

        // Status is a function of the rows present, not of the order events arrived in, so any arrival order ends equal.
        // With the batch's 1,000+ ids known, the planner picked hash joins over seq scans of orders, order_lines and
        // backorders: 450-900 ms per batch once the views held 100,000 orders, growing with them (the sink slowed down
        // as a run went on). The generic plan of the prepared statement probes the indexes per touched order (70-80 ms
        // for 1,250 orders at that size); forced, because plan_cache_mode=auto runs five custom plans per connection
        // first. SET LOCAL: this transaction only, and only the offsets insert (prepared, keyed) follows.
        // Each figure is a LATERAL aggregate keyed by the order: joined per CTE, the generic plan (which guesses ten ids)
        // hashed the ids and seq-scanned channel_pushes, whose correlation ids are mostly a few `sku:` keys with many
        // stock pushes each (69 rows per id estimated) — 15 of 18 ms for a 9-order batch at 11,000 pushes, growing
        // with every push. Per order it is index probes only: 5-9 ms for 9 orders, 78 ms for 1,250 (77 before).
        await using (var generic = new NpgsqlCommand("SET LOCAL plan_cache_mode = force_generic_plan", c, tx))
        {
            await generic.ExecuteNonQueryAsync(ct);
        }

        await using var command = new NpgsqlCommand(OrderStatusSql, c, tx);
        command.Parameters.AddWithValue("ids", b.TouchedOrders.ToArray());
        await command.PrepareAsync(ct);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Recomputes status and channel sync state of the orders in <c>@ids</c> (search_path = views schema).</summary>
    public const string OrderStatusSql = """
        WITH ids AS (SELECT DISTINCT unnest(@ids::text[]) AS order_id),
        computed AS (
          SELECT o.order_id,
            CASE WHEN o.cancelled_at IS NOT NULL THEN 'cancelled'
                 WHEN COALESCE(od.q, 0) > 0 AND COALESCE(sh.q, 0) >= od.q THEN 'shipped'
                 WHEN COALESCE(sh.q, 0) > 0 THEN 'partially_shipped'
                 WHEN COALESCE(od.q, 0) > 0 AND COALESCE(al.q, 0) - COALESCE(re.q, 0) >= od.q THEN 'allocated'
                 WHEN EXISTS (SELECT 1 FROM backorders b WHERE b.order_id = o.order_id) THEN 'backordered'
                 WHEN COALESCE(al.q, 0) - COALESCE(re.q, 0) > 0 THEN 'partially_allocated'
                 ELSE 'open' END AS status,
            CASE WHEN pu.n = 0 THEN 'not_pushed'
                 WHEN pu.failed THEN 'failed'
                 WHEN pu.retrying THEN 'retrying'
                 ELSE 'synced' END AS sync_state
          FROM orders o JOIN ids USING (order_id)
          CROSS JOIN LATERAL (SELECT sum(l.quantity) AS q FROM order_lines l WHERE l.order_id = o.order_id) od
          CROSS JOIN LATERAL (SELECT sum(a.quantity) AS q FROM allocation_lines a WHERE a.order_id = o.order_id) al
          CROSS JOIN LATERAL (SELECT sum(r.quantity) AS q FROM allocation_releases_open r WHERE r.order_id = o.order_id) re
          CROSS JOIN LATERAL (SELECT sum(s.quantity) AS q FROM shipment_lines s WHERE s.order_id = o.order_id) sh
          CROSS JOIN LATERAL (
            SELECT count(*) AS n, bool_or(p.outcome IN ('Failed', 'DeadLettered')) AS failed, bool_or(p.outcome = 'Retrying') AS retrying
            FROM channel_pushes p WHERE p.correlation_id = o.order_id) pu)
        UPDATE orders o SET status = c.status, sync_state = c.sync_state
        FROM computed c
        WHERE o.order_id = c.order_id AND (o.status, o.sync_state) IS DISTINCT FROM (c.status, c.sync_state)
        """;

    private static Task WriteOffsetsAsync(
        NpgsqlConnection c, NpgsqlTransaction tx, string consumerName, IReadOnlyDictionary<(string Topic, int Partition), long> next, CancellationToken ct) =>
        Insert(c, tx, "sink_offsets", next.Select(kv => (kv.Key.Topic, kv.Key.Partition, Next: kv.Value)).ToList(), [
            new("consumer", ColType.Text, _ => consumerName),
            new("topic", ColType.Text, r => r.Topic),
            new("partition", ColType.Int, r => r.Partition),
            new("next_offset", ColType.Long, r => r.Next),
        ], "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = GREATEST(sink_offsets.next_offset, excluded.next_offset)", ct);
}

