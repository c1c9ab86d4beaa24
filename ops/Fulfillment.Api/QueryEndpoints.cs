using System.Text.Json;
using Dapper;
using Fulfillment.Sinks.Views.Audit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fulfillment.Api;

/// <summary>A page of rows.</summary>
public sealed record Page(IReadOnlyList<Dictionary<string, object?>> Items, int PageNumber, int PageSize, long Total);

/// <summary>
/// Read endpoints over the views schema. Every query is limited to the caller's pools: a row of another tenant is never
/// listed, and asking for it by id answers 404 (its existence is not revealed).
/// </summary>
public static class QueryEndpoints
{
    /// <summary>Columns holding JSON documents, returned as JSON rather than as strings.</summary>
    private static readonly HashSet<string> JsonColumns = ["channel_available_to_sell", "rules", "summary", "components"];

    public static void MapQueryEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("").RequireApiKey().WithTags("Views");

        api.MapGet("/orders", (HttpContext http, Views v, string? status, string? channel, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "orders", "placed_at DESC NULLS LAST, order_id", pool, page, pageSize,
                [("status", status), ("channel", channel)], ct));

        api.MapGet("/orders/{orderId}", async (HttpContext http, Views v, string orderId, CancellationToken ct) =>
        {
            var pools = Pools(http);
            var order = await v.OneAsync("SELECT * FROM orders WHERE order_id = @orderId AND pool_id = ANY(@pools)", new { orderId, pools }, ct);
            if (order is null)
            {
                return NotFound("order", orderId);
            }

            var p = new { orderId };
            order["lines"] = await v.RowsAsync("SELECT line_id, sku, quantity, allocated_quantity, shipped_quantity FROM order_line_progress WHERE order_id = @orderId ORDER BY line_id", p, ct);
            order["allocations"] = await v.RowsAsync(
                """
                SELECT l.allocation_id, l.line_id, l.sku, l.location_id, l.quantity, l.decided_at, d.rule_trail,
                       COALESCE((SELECT sum(r.quantity) FROM allocation_releases_open r WHERE r.allocation_id = l.allocation_id
                                 AND r.line_id = l.line_id AND r.location_id = l.location_id), 0) AS released_quantity
                FROM allocation_lines l JOIN allocation_decisions d USING (allocation_id)
                WHERE l.order_id = @orderId ORDER BY l.decided_at, l.allocation_id, l.line_id, l.location_id
                """, p, ct);
            order["backorders"] = await v.RowsAsync("SELECT line_id, sku, quantity, reason, rule_trail, first_backordered_at FROM backorders WHERE order_id = @orderId ORDER BY line_id", p, ct);
            order["shipments"] = await v.RowsAsync(
                """
                SELECT s.shipment_id, s.location_id, s.carrier, s.service, s.tracking_number, s.tracking_url, s.shipped_at,
                       t.status AS tracking_status, t.status_at AS tracking_status_at,
                       (SELECT json_agg(json_build_object('line_id', sl.line_id, 'sku', sl.sku, 'quantity', sl.quantity) ORDER BY sl.line_id)::text
                        FROM shipment_lines sl WHERE sl.shipment_id = s.shipment_id) AS lines
                FROM shipments s LEFT JOIN tracking t ON t.carrier = s.carrier AND t.tracking_number = s.tracking_number
                WHERE s.order_id = @orderId ORDER BY s.shipped_at, s.shipment_id
                """, p, ct);
            order["channel_pushes"] = await v.RowsAsync("SELECT push_id, operation, target_id, attempts, outcome, http_status, error, next_attempt_at, last_attempt_at FROM channel_pushes WHERE correlation_id = @orderId ORDER BY last_attempt_at", p, ct);
            return Results.Ok(order);
        });

        api.MapGet("/orders/{orderId}/audit", async (HttpContext http, Views v, string orderId, CancellationToken ct) =>
        {
            var timeline = await AuditTimeline.ForOrderAsync(v.DataSource, v.Schema, orderId, Pools(http), ct);
            return timeline.Count == 0
                ? NotFound("order", orderId)
                : Results.Ok(new
                {
                    order_id = orderId,
                    entries = timeline.Select(e => new
                    {
                        occurred_at = e.OccurredAt,
                        recorded_at = e.RecordedAt,
                        topic = e.Topic,
                        kind = e.Kind,
                        source_system = e.SourceSystem,
                        source_id = e.SourceId,
                        event_id = e.EventId,
                        causation_id = e.CausationId,
                        summary = JsonDocument.Parse(e.Summary).RootElement,
                    }),
                });
        });

        api.MapGet("/stock", (HttpContext http, Views v, string? sku, string? location, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "stock_levels", "sku, location_id", pool, page, pageSize, [("sku", sku), ("location_id", location)], ct,
                "pool_id, sku, location_id, on_hand, allocated, safety_stock, available, in_transit, channel_available_to_sell, changed_at"));

        api.MapGet("/stock/by-sku", (HttpContext http, Views v, string? sku, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "stock_by_sku", "sku", pool, page, pageSize, [("sku", sku)], ct));

        api.MapGet("/stock/by-location", (HttpContext http, Views v, string? location, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "stock_by_location", "location_id", pool, page, pageSize, [("location_id", location)], ct));

        api.MapGet("/availability/{sku}", async (HttpContext http, Views v, string sku, string? pool, CancellationToken ct) =>
        {
            var pools = Pools(http, pool);
            if (pools is null)
            {
                return ForeignPool(pool!);
            }

            var rows = await v.RowsAsync(
                """
                SELECT pool_id, location_id, on_hand, allocated, safety_stock, available, in_transit, channel_available_to_sell, changed_at
                FROM stock_levels WHERE sku = @sku AND pool_id = ANY(@pools) ORDER BY pool_id, location_id
                """, new { sku, pools }, ct);
            return rows.Count == 0
                ? NotFound("sku", sku)
                : Results.Ok(new
                {
                    sku,
                    available = rows.Sum(r => Convert.ToInt64(r["available"], System.Globalization.CultureInfo.InvariantCulture)),
                    locations = rows,
                    as_of = rows.Max(r => (DateTime)r["changed_at"]!),
                    freshness = "From the stock view: the inventory processor's live state as of its last stock-level event that reached Postgres (p99 lag measured by `ops/fulfillment bench freshness`).",
                });
        });

        api.MapGet("/backorders", (HttpContext http, Views v, string? sku, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "open_backorders", "first_backordered_at, order_id, line_id", pool, page, pageSize, [("sku", sku)], ct,
                "pool_id, order_id, line_id, sku, quantity, reason, rule_trail, first_backordered_at, extract(epoch FROM age)::bigint AS age_seconds"));

        api.MapGet("/transfers", (HttpContext http, Views v, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "transfers", "requested_at DESC NULLS LAST, transfer_id", pool, page, pageSize, [], ct,
                "*, CASE WHEN received_at IS NOT NULL THEN 'received' WHEN shipped_at IS NOT NULL THEN 'in_transit' ELSE 'requested' END AS status"));

        api.MapGet("/transfers/{transferId}", async (HttpContext http, Views v, string transferId, CancellationToken ct) =>
        {
            var transfer = await v.OneAsync(
                "SELECT *, CASE WHEN received_at IS NOT NULL THEN 'received' WHEN shipped_at IS NOT NULL THEN 'in_transit' ELSE 'requested' END AS status FROM transfers WHERE transfer_id = @transferId AND pool_id = ANY(@pools)",
                new { transferId, pools = Pools(http) }, ct);
            if (transfer is null)
            {
                return NotFound("transfer", transferId);
            }

            transfer["lines"] = await v.RowsAsync("SELECT sku, requested_quantity, shipped_quantity, received_quantity FROM transfer_lines WHERE transfer_id = @transferId ORDER BY sku", new { transferId }, ct);
            return Results.Ok(transfer);
        });

        api.MapGet("/dead-letters", (HttpContext http, Views v, string? topic, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "dead_letters", "failed_at DESC, event_id", pool, page, pageSize, [("source_topic", topic)], ct));

        api.MapGet("/reports/locations/daily", (HttpContext http, Views v, string? location, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "location_daily", "day DESC, location_id", pool, page, pageSize, [("location_id", location)], ct));

        api.MapGet("/reports/locations/health", (HttpContext http, Views v, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "location_health", "location_id", pool, page, pageSize, [], ct,
                "pool_id, location_id, skus, on_hand, available, extract(epoch FROM since_last_stock_change)::bigint AS seconds_since_last_stock_change, extract(epoch FROM since_last_stock_write)::bigint AS seconds_since_last_stock_write, extract(epoch FROM oldest_open_backorder_age)::bigint AS oldest_open_backorder_seconds, open_backorder_lines"));

        api.MapGet("/locations", (HttpContext http, Views v, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "locations", "priority, location_id", pool, page, pageSize, [], ct));

        api.MapGet("/routing-rules", (HttpContext http, Views v, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "routing_rules", "channel, shop_id", pool, page, pageSize, [], ct));

        api.MapGet("/safety-stock", (HttpContext http, Views v, string? sku, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "safety_stock", "sku, location_id", pool, page, pageSize, [("sku", sku)], ct));

        api.MapGet("/stock/movements", (HttpContext http, Views v, string? sku, string? location, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "stock_movements", "moved_at DESC, event_id", pool, page, pageSize, [("sku", sku), ("location_id", location)], ct));

        api.MapGet("/bundles", (HttpContext http, Views v, string? sku, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "bundles", "bundle_sku", pool, page, pageSize, [("bundle_sku", sku)], ct));

        api.MapGet("/channel-locations", (HttpContext http, Views v, string? channel, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "channel_locations", "channel, shop_id", pool, page, pageSize, [("channel", channel)], ct));

        api.MapGet("/pool-settings", (HttpContext http, Views v, string? pool, int? page, int? pageSize, CancellationToken ct) =>
            v.ListAsync(http, "pool_settings", "pool_id", pool, page, pageSize, [], ct));

        api.MapGet("/commands/{commandId}", async (HttpContext http, Views v, string commandId, CancellationToken ct) =>
        {
            var command = await v.OneAsync(
                $"""
                SELECT c.command_id, c.kind, c.pool_id, c.topic, c.created_at, c.produced_at,
                       EXISTS (SELECT 1 FROM events e WHERE e.event_id = c.event_id) AS applied_to_views
                FROM durable.operator_commands c WHERE c.command_id = @commandId AND c.tenant = @tenant
                """, new { commandId, tenant = ApiKeyFilter.TenantOf(http).Name }, ct);
            if (command is null)
            {
                return NotFound("command", commandId);
            }

            command["status"] = command["applied_to_views"] is true ? "applied" : command["produced_at"] is null ? "stored" : "produced";
            return Results.Ok(command);
        });
    }

    private static string[] Pools(HttpContext http) => [.. ApiKeyFilter.TenantOf(http).Pools];

    /// <summary>The pools to query: the one asked for (null if not the caller's) or all of the caller's.</summary>
    private static string[]? Pools(HttpContext http, string? pool)
    {
        var tenant = ApiKeyFilter.TenantOf(http);
        return pool is null ? [.. tenant.Pools] : tenant.Owns(pool) ? [pool] : null;
    }

    private static IResult NotFound(string what, string id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: $"No such {what}", detail: $"No {what} '{id}' in this key's pools.");

    private static IResult ForeignPool(string pool) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Pool not owned by this API key", detail: $"Pool '{pool}' belongs to another tenant.");

    /// <summary>Query helper bound to the views schema.</summary>
    public sealed class Views(NpgsqlDataSource dataSource, IOptions<ApiOptions> options)
    {
        public NpgsqlDataSource DataSource => dataSource;

        public string Schema => options.Value.Schema;

        public async Task<List<Dictionary<string, object?>>> RowsAsync(string sql, object parameters, CancellationToken ct)
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            await connection.ExecuteAsync(new CommandDefinition($"SET search_path TO {Schema}", cancellationToken: ct));
            var rows = await connection.QueryAsync(new CommandDefinition(sql, parameters, cancellationToken: ct));
            return [.. rows.Select(r => ToDictionary((IDictionary<string, object?>)r))];
        }

        public async Task<Dictionary<string, object?>?> OneAsync(string sql, object parameters, CancellationToken ct) =>
            (await RowsAsync(sql, parameters, ct)).FirstOrDefault();

        public async Task<IResult> ListAsync(
            HttpContext http, string view, string orderBy, string? pool, int? page, int? pageSize,
            IReadOnlyList<(string Column, string? Value)> filters, CancellationToken ct, string columns = "*")
        {
            var errors = new Validator();
            errors.Check(page is null or >= 1, "page", "must be 1 or more");
            errors.Check(pageSize is null or (>= 1 and <= 500), "pageSize", "must be between 1 and 500");
            if (errors.Errors.Count > 0)
            {
                return Results.ValidationProblem(errors.Errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
            }

            var pools = Pools(http, pool);
            if (pools is null)
            {
                return ForeignPool(pool!);
            }

            var parameters = new DynamicParameters();
            parameters.Add("pools", pools);
            var where = "pool_id = ANY(@pools)";
            foreach (var (column, value) in filters.Where(f => f.Value is not null))
            {
                parameters.Add(column, value);
                where += $" AND {column} = @{column}";
            }

            var number = page ?? 1;
            var size = pageSize ?? 50;
            parameters.Add("limit", size);
            parameters.Add("offset", (number - 1) * size);
            var items = await RowsAsync($"SELECT {columns} FROM {view} WHERE {where} ORDER BY {orderBy} LIMIT @limit OFFSET @offset", parameters, ct);
            var total = await OneAsync($"SELECT count(*) AS n FROM {view} WHERE {where}", parameters, ct);
            return Results.Ok(new Page(items, number, size, Convert.ToInt64(total!["n"], System.Globalization.CultureInfo.InvariantCulture)));
        }

        private static Dictionary<string, object?> ToDictionary(IDictionary<string, object?> row)
        {
            var result = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (key, value) in row)
            {
                result[key] = value switch
                {
                    string s when JsonColumns.Contains(key) || key == "lines" => JsonDocument.Parse(s).RootElement.Clone(),
                    DBNull => null,
                    _ => value,
                };
            }

            return result;
        }
    }
}
