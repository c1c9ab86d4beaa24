using System.Diagnostics;
using System.Globalization;
using Dapper;

namespace Fulfillment.Demo;

/// <summary>
/// <c>verify</c>: what a fault drill must find after recovery, read from the views. Waits until the pipeline is quiet
/// (nothing changes for a while, no push still retrying), then checks:
/// every order the connector accepted (the demo's ledger) is in the view, every accepted cancellation is applied;
/// one order row per order that has order events (nothing lost, nothing doubled); stock on hand per SKU × location
/// equals the sum of the processor's stock movements and equals receipts + transfers in − transfers out − shipped (no
/// stock movement lost or doubled); no operator command refused as a repeat (none reached the inventory twice); and, with
/// <c>--pushes</c>, every push that failed was retried to success or dead-lettered.
/// </summary>
public sealed class DrillChecks(ViewsProbe probe, TextWriter output)
{
    public async Task<int> VerifyAsync(string ledgerPath, TimeSpan timeout, bool pushes, CancellationToken ct)
    {
        var (orders, cancels) = ReadLedger(ledgerPath);
        await output.WriteLineAsync($"verify: ledger {ledgerPath}: {orders.Count} accepted orders, {cancels.Count} accepted cancellations; pools {string.Join(", ", probe.Pools)}");
        var clock = Stopwatch.StartNew();
        var quiet = await WaitQuietAsync(orders, pushes, timeout, ct);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"verify: pipeline {(quiet ? "quiet" : "STILL MOVING at the timeout")} after {clock.Elapsed.TotalSeconds:F0} s"));

        // A pipeline still moving after the timeout is a failure of its own: a worker that died or stalled (and the
        // pushes it owes) would otherwise pass every count below that happens to be complete already.
        var failures = Check(quiet, "the pipeline came to rest (every order in the view, figures steady, no push owed or retrying)");
        await using var c = await probe.DataSource.OpenConnectionAsync(ct);
        var s = probe.Schema;
        var pools = probe.Pools.ToArray();

        var inView = (await c.QueryAsync<(string Id, bool Cancelled)>(new CommandDefinition(
            $"SELECT order_id, cancelled_at IS NOT NULL FROM {s}.orders WHERE order_id = ANY(@ids)", new { ids = orders.ToArray() }, cancellationToken: ct)))
            .ToDictionary(r => r.Id, r => r.Cancelled, StringComparer.Ordinal);
        var missing = orders.Where(o => !inView.ContainsKey(o)).ToList();
        failures += Check(missing.Count == 0, $"accepted orders in the view: {inView.Count} of {orders.Count}{Sample(missing)}");
        var notCancelled = cancels.Where(o => !inView.TryGetValue(o, out var cancelled) || !cancelled).ToList();
        failures += Check(notCancelled.Count == 0, $"accepted cancellations applied: {cancels.Count - notCancelled.Count} of {cancels.Count}{Sample(notCancelled)}");

        var (withEvents, rows) = await c.QuerySingleAsync<(long, long)>(new CommandDefinition(
            $"""
            SELECT (SELECT count(DISTINCT correlation_id) FROM {s}.events
                    WHERE pool_id = ANY(@pools) AND kind IN ('OrderPlaced', 'OrderUpdated', 'OrderCancelled')),
                   (SELECT count(*) FROM {s}.orders WHERE pool_id = ANY(@pools))
            """, new { pools }, cancellationToken: ct));
        failures += Check(withEvents == rows, $"orders with order events = order rows: {withEvents} = {rows}");

        var drift = (await c.QueryAsync<(string Pool, string Sku, string Location, long Expected, long Actual)>(new CommandDefinition(
            $"""
            WITH rejected AS (
              -- Inputs the inventory processor refused (push dead letters name orders too, but say nothing about stock).
              -- A repeat of a command already applied (a retried API call produced twice) is refused as a repeat and
              -- leaves the first one's effect standing, so it does not take the transfer or shipment out of the balance.
              SELECT correlation_id FROM {s}.dead_letters
              WHERE pool_id = ANY(@pools) AND error_type = 'inventory.rejected' AND NOT ({Repeat})),
            moves AS (
              SELECT e.pool_id, l->>'sku' AS sku, e.summary::jsonb->'body'->>'location_id' AS location_id, (l->>'quantity')::bigint AS qty
              FROM {s}.events e CROSS JOIN LATERAL jsonb_array_elements(e.summary::jsonb->'body'->'lines') l
              WHERE e.kind = 'StockReceived' AND e.pool_id = ANY(@pools)
                AND e.summary::jsonb->'body'->>'receipt_id' NOT IN (SELECT correlation_id FROM rejected)
              UNION ALL
              SELECT t.pool_id, tl.sku, t.to_location_id, tl.received_quantity
              FROM {s}.transfers t JOIN {s}.transfer_lines tl ON tl.transfer_id = t.transfer_id
              WHERE t.pool_id = ANY(@pools) AND t.received_at IS NOT NULL AND tl.received_quantity IS NOT NULL
                AND t.transfer_id NOT IN (SELECT correlation_id FROM rejected)
              UNION ALL
              SELECT t.pool_id, tl.sku, t.from_location_id, -tl.shipped_quantity
              FROM {s}.transfers t JOIN {s}.transfer_lines tl ON tl.transfer_id = t.transfer_id
              WHERE t.pool_id = ANY(@pools) AND t.shipped_at IS NOT NULL AND tl.shipped_quantity IS NOT NULL
                AND t.transfer_id NOT IN (SELECT correlation_id FROM rejected)
              UNION ALL
              SELECT x.pool_id, xl.sku, x.location_id, -xl.quantity
              FROM {s}.shipments x JOIN {s}.shipment_lines xl ON xl.shipment_id = x.shipment_id
              WHERE x.pool_id = ANY(@pools) AND x.order_id NOT IN (SELECT correlation_id FROM rejected)
                AND x.shipment_id NOT IN (SELECT correlation_id FROM rejected)),
            expected AS (SELECT pool_id, sku, location_id, sum(qty) AS on_hand FROM moves GROUP BY 1, 2, 3),
            actual AS (SELECT pool_id, sku, location_id, on_hand::bigint AS on_hand FROM {s}.stock_levels WHERE pool_id = ANY(@pools))
            SELECT coalesce(e.pool_id, a.pool_id), coalesce(e.sku, a.sku), coalesce(e.location_id, a.location_id),
                   coalesce(e.on_hand, 0), coalesce(a.on_hand, 0)
            FROM expected e FULL JOIN actual a ON a.pool_id = e.pool_id AND a.sku = e.sku AND a.location_id = e.location_id
            WHERE coalesce(e.on_hand, 0) <> coalesce(a.on_hand, 0)
            """, new { pools }, cancellationToken: ct))).ToList();
        var cells = await c.QuerySingleAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM {s}.stock_levels WHERE pool_id = ANY(@pools)", new { pools }, cancellationToken: ct));
        failures += Check(drift.Count == 0, $"on hand = receipts + transfers in − transfers out − shipped, per SKU × location: {cells - drift.Count} of {cells} cells balance"
            + string.Concat(drift.Take(5).Select(d => $"\n      {d.Pool} {d.Sku}@{d.Location}: expected {d.Expected}, view {d.Actual}")));

        var unbalanced = (await c.QueryAsync<(string Pool, string Sku, string Location, long Moved, long Actual)>(new CommandDefinition(
            $"""
            WITH moved AS (
              SELECT pool_id, summary::jsonb->>'sku' AS sku, summary::jsonb->>'location_id' AS location_id,
                     sum((summary::jsonb->>'quantity')::bigint) AS on_hand
              FROM {s}.events WHERE kind = 'StockMoved' AND pool_id = ANY(@pools) GROUP BY 1, 2, 3),
            actual AS (SELECT pool_id, sku, location_id, on_hand::bigint AS on_hand FROM {s}.stock_levels WHERE pool_id = ANY(@pools))
            SELECT coalesce(m.pool_id, a.pool_id), coalesce(m.sku, a.sku), coalesce(m.location_id, a.location_id),
                   coalesce(m.on_hand, 0), coalesce(a.on_hand, 0)
            FROM moved m FULL JOIN actual a ON a.pool_id = m.pool_id AND a.sku = m.sku AND a.location_id = m.location_id
            WHERE coalesce(m.on_hand, 0) <> coalesce(a.on_hand, 0)
            """, new { pools }, cancellationToken: ct))).ToList();
        var movements = await c.QuerySingleAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM {s}.events WHERE kind = 'StockMoved' AND pool_id = ANY(@pools)", new { pools }, cancellationToken: ct));
        failures += Check(unbalanced.Count == 0 && movements > 0, $"sum of stock movements = on hand, per SKU × location: {cells - unbalanced.Count} of {cells} cells, {movements} movements"
            + string.Concat(unbalanced.Take(5).Select(d => $"\n      {d.Pool} {d.Sku}@{d.Location}: movements {d.Moved}, view {d.Actual}")));

        var repeats = await c.QuerySingleAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM {s}.dead_letters WHERE pool_id = ANY(@pools) AND error_type = 'inventory.rejected' AND {Repeat}",
            new { pools }, cancellationToken: ct));
        // The API produces a command once, and a client's retry gets the same command id: a command the inventory
        // refuses as a repeat of one it applied reached it twice (a retry or a crash produced it again).
        failures += Check(repeats == 0, $"no operator command reached the inventory twice: {repeats} refused as repeats of applied ones");
        var deadLetters = await c.QueryAsync<(string Type, long Count)>(new CommandDefinition(
            $"SELECT error_type, count(*) FROM {s}.dead_letters WHERE pool_id = ANY(@pools) GROUP BY 1 ORDER BY 1", new { pools }, cancellationToken: ct));
        await output.WriteLineAsync($"  info  dead letters by type: {string.Join(", ", deadLetters.Select(d => $"{d.Type} {d.Count}").DefaultIfEmpty("none"))}");

        if (pushes)
        {
            var outcomes = (await c.QueryAsync<(string Outcome, long Count)>(new CommandDefinition(
                $"SELECT outcome, count(*) FROM {s}.channel_pushes WHERE pool_id = ANY(@pools) GROUP BY 1 ORDER BY 1", new { pools }, cancellationToken: ct))).ToList();
            var failedAttempts = await c.QuerySingleAsync<(long Attempts, long Pushes, long Open)>(new CommandDefinition(
                $"""
                SELECT count(*),
                       count(DISTINCT a.push_id),
                       count(DISTINCT a.push_id) FILTER (WHERE p.outcome IS NULL OR p.outcome NOT IN ('Pushed', 'DeadLettered'))
                FROM {s}.channel_push_attempts a LEFT JOIN {s}.channel_pushes p ON p.push_id = a.push_id
                WHERE a.pool_id = ANY(@pools) AND a.outcome IN ('Failed', 'Retrying')
                """, new { pools }, cancellationToken: ct));
            await output.WriteLineAsync($"  info  pushes by outcome: {string.Join(", ", outcomes.Select(o => $"{o.Outcome} {o.Count}").DefaultIfEmpty("none"))}");
            // Pushes follow ship confirmations; a short run whose orders never got as far as shipping owes none.
            var shipments = await c.QuerySingleAsync<long>(new CommandDefinition(
                $"SELECT count(*) FROM {s}.shipments WHERE pool_id = ANY(@pools)", new { pools }, cancellationToken: ct));
            failures += Check(shipments == 0 || outcomes.Sum(o => o.Count) > 0, $"the channel-sync worker pushed something ({shipments} shipments)");
            // Stock pushes alone would pass the line above: every ship confirmation must reach its channel (or be
            // dead-lettered with a reason), whatever failed on the way.
            var unsettled = (await c.QueryAsync<string>(new CommandDefinition(
                $"""
                SELECT x.shipment_id FROM {s}.shipments x
                WHERE x.pool_id = ANY(@pools) AND NOT EXISTS (
                  SELECT 1 FROM {s}.channel_pushes p WHERE p.push_id = 'shipment:' || x.shipment_id AND p.outcome IN ('Pushed', 'DeadLettered'))
                ORDER BY 1
                """, new { pools }, cancellationToken: ct))).ToList();
            failures += Check(unsettled.Count == 0, $"every shipment pushed to its channel or dead-lettered: {shipments - unsettled.Count} of {shipments}{Sample(unsettled)}");
            failures += Check(failedAttempts.Open == 0,
                $"every failed push retried or dead-lettered: {failedAttempts.Attempts} failed attempts on {failedAttempts.Pushes} pushes, {failedAttempts.Open} still open");
        }

        await output.WriteLineAsync(failures == 0 ? "verify: all checks passed" : $"verify: {failures} check(s) FAILED");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>Quiet: every ledger order is in the view, the figures stop changing for 8 s and (with pushes) nothing is
    /// waiting for a retry.</summary>
    private async Task<bool> WaitQuietAsync(HashSet<string> orders, bool pushes, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        ViewSnapshot? last = null;
        var stableSince = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                var now = await probe.SnapshotAsync(ct);
                if (now != last)
                {
                    (last, stableSince) = (now, Stopwatch.StartNew());
                }
                else if (stableSince.Elapsed > TimeSpan.FromSeconds(8) && now.Orders >= orders.Count && (!pushes || now.PushesPending == 0))
                {
                    return true;
                }
            }
            catch (Npgsql.NpgsqlException)
            {
                // Postgres may still be coming back after a drill.
            }

            await Task.Delay(1000, ct);
        }

        return false;
    }

    /// <summary>Rejection reasons (InventoryDecider) that mean "this was applied already".</summary>
    private const string Repeat = """
        (reason LIKE '%transfer id already in use%' OR reason LIKE '%already recorded%'
         OR reason LIKE '%already fully shipped%' OR reason ~ 'transfer is [A-Za-z]+, expected')
        """;

    private static (HashSet<string> Orders, HashSet<string> Cancels) ReadLedger(string path)
    {
        var orders = new HashSet<string>(StringComparer.Ordinal);
        var cancels = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length != 2)
            {
                continue;
            }

            (parts[0] == "cancel" ? cancels : orders).Add(parts[1]);
        }

        return (orders, cancels);
    }

    private int Check(bool ok, string what)
    {
        output.WriteLine($"  {(ok ? "ok  " : "FAIL")}  {what}");
        return ok ? 0 : 1;
    }

    private static string Sample(List<string> ids) => ids.Count == 0 ? "" : $" (e.g. {string.Join(", ", ids.Take(3))})";
}
