using Dapper;
using Npgsql;

namespace Fulfillment.Sinks.Views.Audit;

/// <summary>One step of an order's history, from whichever topic recorded it.</summary>
public sealed record AuditEntry(
    DateTime OccurredAt, DateTime RecordedAt, string Topic, string Kind, string SourceSystem, string SourceId,
    string EventId, string CausationId, string PoolId, string Summary);

/// <summary>
/// An order's timeline across all topics: every event whose correlation id is the order id (normalized order events,
/// allocations with their rule trail, shipments, push attempts, dead letters) plus the events that caused them, up the
/// causation chain (the raw delivery a normalized order came from), ordered by time.
/// </summary>
public static class AuditTimeline
{
    public static async Task<IReadOnlyList<AuditEntry>> ForOrderAsync(
        NpgsqlDataSource dataSource, string schema, string orderId, IReadOnlyCollection<string>? pools, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        SchemaMigrator.CheckSchemaName(schema);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<AuditEntry>(new CommandDefinition(
            $"""
            WITH RECURSIVE chain AS (
                SELECT e.*, 0 AS depth FROM {schema}.events e WHERE e.correlation_id = @orderId
              UNION
                SELECT c.*, chain.depth + 1 FROM {schema}.events c JOIN chain ON c.event_id = chain.causation_id
                WHERE chain.depth < 8
            )
            SELECT DISTINCT ON (event_id) occurred_at AS OccurredAt, recorded_at AS RecordedAt, topic AS Topic, kind AS Kind,
                   source_system AS SourceSystem, source_id AS SourceId, event_id AS EventId, causation_id AS CausationId,
                   pool_id AS PoolId, summary::text AS Summary
            FROM chain
            WHERE @pools::text[] IS NULL OR pool_id = ANY(@pools::text[])
            ORDER BY event_id
            """, new { orderId, pools = pools?.ToArray() }, cancellationToken: ct));
        return [.. rows.OrderBy(r => r.OccurredAt).ThenBy(r => r.RecordedAt).ThenBy(r => r.EventId, StringComparer.Ordinal)];
    }
}
