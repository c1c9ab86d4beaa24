using Dapper;
using Npgsql;

namespace Fulfillment.Demo;

/// <summary>Figures for the live view, read from the views the sink maintains.</summary>
public sealed record ViewSnapshot(
    long Orders, long OrdersAllocated, long OpenBackorderLines, long Shipments, long OnHand, long Available, long Allocated,
    long DeadLetters, long PushesPending, long PushesDeadLettered);

/// <summary>An allocated, unshipped quantity of one order line at one location.</summary>
public sealed record ShippableLine(
    string PoolId, string OrderId, string Channel, string ShopId, string ChannelOrderId, string LocationId, string LineId,
    string Sku, int Quantity);

/// <summary>Reads the Postgres views (schema <c>views</c> unless configured otherwise) for the demo's pools.</summary>
public sealed class ViewsProbe(NpgsqlDataSource dataSource, string schema, IReadOnlyList<string> pools)
{
    private readonly string[] _pools = [.. pools.Distinct(StringComparer.Ordinal)];

    static ViewsProbe() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    public string Schema { get; } = schema;

    public NpgsqlDataSource DataSource { get; } = dataSource;

    public IReadOnlyList<string> Pools => _pools;

    public async Task<ViewSnapshot> SnapshotAsync(CancellationToken ct)
    {
        await using var c = await DataSource.OpenConnectionAsync(ct);
        var s = Schema;
        return await c.QuerySingleAsync<ViewSnapshot>(new CommandDefinition(
            $"""
            SELECT
              (SELECT count(*) FROM {s}.orders WHERE pool_id = ANY(@pools)) AS orders,
              (SELECT count(DISTINCT order_id) FROM {s}.allocation_decisions WHERE pool_id = ANY(@pools)) AS orders_allocated,
              (SELECT count(*) FROM {s}.open_backorders WHERE pool_id = ANY(@pools)) AS open_backorder_lines,
              (SELECT count(*) FROM {s}.shipments WHERE pool_id = ANY(@pools)) AS shipments,
              (SELECT coalesce(sum(on_hand), 0) FROM {s}.stock_levels WHERE pool_id = ANY(@pools)) AS on_hand,
              (SELECT coalesce(sum(available), 0) FROM {s}.stock_levels WHERE pool_id = ANY(@pools)) AS available,
              (SELECT coalesce(sum(allocated), 0) FROM {s}.stock_levels WHERE pool_id = ANY(@pools)) AS allocated,
              (SELECT count(*) FROM {s}.dead_letters WHERE pool_id = ANY(@pools)) AS dead_letters,
              -- Pending: retrying, or a shipment channel sync has not reported on yet (its push id is "shipment:" + the
              -- shipment id); after a channel-sync crash nothing is retrying until it is back, yet its pushes are owed.
              (SELECT count(*) FROM {s}.channel_pushes WHERE pool_id = ANY(@pools) AND outcome IN ('Failed', 'Retrying'))
              + (SELECT count(*) FROM {s}.shipments x WHERE x.pool_id = ANY(@pools)
                 AND NOT EXISTS (SELECT 1 FROM {s}.channel_pushes p WHERE p.push_id = 'shipment:' || x.shipment_id)) AS pushes_pending,
              (SELECT count(*) FROM {s}.channel_pushes WHERE pool_id = ANY(@pools) AND outcome = 'DeadLettered') AS pushes_dead_lettered
            """, new { pools = _pools }, cancellationToken: ct));
    }

    /// <summary>Allocated lines of open orders that have no shipment yet, net of releases, at most <paramref name="orders"/> orders.</summary>
    public async Task<IReadOnlyList<ShippableLine>> ShippableAsync(int orders, CancellationToken ct)
    {
        await using var c = await DataSource.OpenConnectionAsync(ct);
        var s = Schema;
        var rows = await c.QueryAsync<ShippableLine>(new CommandDefinition(
            $"""
            WITH candidates AS (
              SELECT o.order_id, o.pool_id, o.channel, o.shop_id, o.channel_order_id
              FROM {s}.orders o
              WHERE o.pool_id = ANY(@pools) AND o.cancelled_at IS NULL AND o.channel IS NOT NULL
                AND EXISTS (SELECT 1 FROM {s}.allocation_lines a WHERE a.order_id = o.order_id)
                AND NOT EXISTS (SELECT 1 FROM {s}.shipments x WHERE x.order_id = o.order_id)
              LIMIT @orders)
            SELECT c.pool_id, c.order_id, c.channel, c.shop_id, c.channel_order_id, a.location_id, a.line_id, a.sku,
                   (sum(a.quantity) - coalesce((SELECT sum(r.quantity) FROM {s}.allocation_releases_open r
                      WHERE r.order_id = a.order_id AND r.line_id = a.line_id AND r.location_id = a.location_id), 0))::int AS quantity
            FROM candidates c JOIN {s}.allocation_lines a ON a.order_id = c.order_id
            GROUP BY c.pool_id, c.order_id, c.channel, c.shop_id, c.channel_order_id, a.order_id, a.location_id, a.line_id, a.sku
            """, new { pools = _pools, orders }, cancellationToken: ct));
        return [.. rows.Where(r => r.Quantity > 0)];
    }

    /// <summary>Available units per (SKU, location) of a pool, for picking transfers the source can cover.</summary>
    public async Task<IReadOnlyList<(string Sku, string LocationId, int Available)>> AvailableAsync(string pool, int minimum, CancellationToken ct)
    {
        await using var c = await DataSource.OpenConnectionAsync(ct);
        var rows = await c.QueryAsync<(string, string, int)>(new CommandDefinition(
            $"SELECT sku, location_id, available FROM {Schema}.stock_levels WHERE pool_id = @pool AND available >= @minimum",
            new { pool, minimum }, cancellationToken: ct));
        return [.. rows];
    }
}
