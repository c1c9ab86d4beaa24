using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dapper;

namespace Fulfillment.Demo;

/// <summary>What one e2e run measured.</summary>
/// <param name="Measured">Orders sent after the warm-up.</param>
/// <param name="Seen">Of those, how many reached the view (an allocation decision or a backorder row).</param>
/// <param name="OrdersPerSecond">Seen orders divided by the time from the first measured send to the last one seen.</param>
/// <param name="LatenciesMs">Send → visible in the view, per seen order, sorted.</param>
public sealed record E2eResult(long Measured, long Seen, long NotAccepted, double OrdersPerSecond, double[] LatenciesMs, double SendSeconds)
{
    public double P50 => Percentiles.Of(LatenciesMs, 0.50);

    public double P99 => Percentiles.Of(LatenciesMs, 0.99);

    public double Max => LatenciesMs.Length == 0 ? double.NaN : LatenciesMs[^1];

    /// <summary>Sustained throughput: orders that made it, over the span from the first send to the last arrival.</summary>
    public static double Throughput(long seen, double firstSendSeconds, double lastSeenSeconds) =>
        seen == 0 || lastSeenSeconds <= firstSendSeconds ? 0 : seen / (lastSeenSeconds - firstSendSeconds);
}

/// <summary>
/// <c>bench</c>: signed webhook in → connector → orders topic → inventory pool processor → allocations topic → views
/// sink → Postgres. Orders are sent open-loop at the given rate over real HTTP; a poller looks every 20 ms for each
/// sent order's allocation decision or backorder row in the views (committed, visible to any reader), so each latency
/// is an upper bound by up to the poll interval. Warm-up orders are sent first and not measured.
/// </summary>
public sealed class E2eBench(OrderGenerator generator, WebhookSender sender, ViewsProbe probe, ChannelApiStub? stub, TextWriter output)
{
    public async Task<E2eResult> RunAsync(double rate, TimeSpan duration, TimeSpan warmUp, int maxInFlight, CancellationToken ct)
    {
        var sentAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var seenAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var measured = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        long notAccepted = 0;
        var clock = Stopwatch.StartNew();
        using var sending = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var poller = Task.Run(() => PollAsync(sentAt, seenAt, clock, polling.Token), CancellationToken.None);

        using var inFlight = new SemaphoreSlim(maxInFlight);
        var tasks = new List<Task>();
        long due = 0;
        var total = warmUp + duration;
        double firstMeasured = -1;
        while (clock.Elapsed < total && !ct.IsCancellationRequested)
        {
            var target = (long)(clock.Elapsed.TotalSeconds * rate);
            // Stop at the deadline even when sends fell behind: a backlog sent afterwards would stretch the run.
            while (due < target && clock.Elapsed < total)
            {
                await inFlight.WaitAsync(ct);
                var order = generator.Next(DateTime.UtcNow);
                stub?.Register(order);
                var delivery = Payloads.Create(order);
                var isMeasured = clock.Elapsed >= warmUp;
                if (isMeasured && firstMeasured < 0)
                {
                    firstMeasured = clock.Elapsed.TotalSeconds;
                }

                var id = order.HubOrderId;
                sentAt[id] = clock.ElapsedTicks;
                if (isMeasured)
                {
                    measured[id] = 0;
                }

                tasks.Add(Task.Run(async () =>
                {
                    try
                    {
                        var result = await sender.SendAsync(delivery, ct);
                        if (result.Status != 200)
                        {
                            sentAt.TryRemove(id, out _);
                            if (measured.TryRemove(id, out _))
                            {
                                Interlocked.Increment(ref notAccepted);
                            }
                        }
                    }
                    finally
                    {
                        inFlight.Release();
                    }
                }, CancellationToken.None));
                due++;
            }

            if (tasks.Count > 4096)
            {
                tasks.RemoveAll(t => t.IsCompleted);
            }

            await Task.Delay(1, ct);
        }

        var sendSeconds = clock.Elapsed.TotalSeconds - Math.Max(0, firstMeasured);
        await Task.WhenAll(tasks);
        // Drain: wait until every measured order is visible, or 60 s without progress.
        var lastProgress = clock.Elapsed;
        var lastCount = -1;
        while (!ct.IsCancellationRequested)
        {
            var seen = measured.Keys.Count(seenAt.ContainsKey);
            if (seen == measured.Count)
            {
                break;
            }

            if (seen != lastCount)
            {
                (lastCount, lastProgress) = (seen, clock.Elapsed);
            }
            else if (clock.Elapsed - lastProgress > TimeSpan.FromSeconds(60))
            {
                break;
            }

            await Task.Delay(100, ct);
        }

        await polling.CancelAsync();
        await poller;

        var latencies = new List<double>(measured.Count);
        long lastSeenTicks = 0;
        foreach (var id in measured.Keys)
        {
            if (seenAt.TryGetValue(id, out var seen) && sentAt.TryGetValue(id, out var sent))
            {
                latencies.Add((seen - sent) * 1000.0 / Stopwatch.Frequency);
                lastSeenTicks = Math.Max(lastSeenTicks, seen);
            }
        }

        latencies.Sort();
        var lastSeenSeconds = lastSeenTicks / (double)Stopwatch.Frequency;
        return new E2eResult(measured.Count + notAccepted, latencies.Count, notAccepted,
            E2eResult.Throughput(latencies.Count, Math.Max(0, firstMeasured), lastSeenSeconds), [.. latencies], sendSeconds);
    }

    private async Task PollAsync(ConcurrentDictionary<string, long> sentAt, ConcurrentDictionary<string, long> seenAt, Stopwatch clock, CancellationToken ct)
    {
        await using var connection = await probe.DataSource.OpenConnectionAsync(CancellationToken.None);
        var s = probe.Schema;
        var sql = $"""
            SELECT order_id FROM {s}.allocation_decisions WHERE order_id = ANY(@ids)
            UNION SELECT order_id FROM {s}.backorders WHERE order_id = ANY(@ids)
            """;
        while (!ct.IsCancellationRequested)
        {
            var pending = sentAt.Keys.Where(k => !seenAt.ContainsKey(k)).Take(50_000).ToArray();
            if (pending.Length > 0)
            {
                try
                {
                    var found = await connection.QueryAsync<string>(new CommandDefinition(sql, new { ids = pending }, cancellationToken: CancellationToken.None));
                    var now = clock.ElapsedTicks;
                    foreach (var id in found)
                    {
                        seenAt.TryAdd(id, now);
                    }
                }
                catch (Npgsql.NpgsqlException e)
                {
                    await output.WriteLineAsync($"bench: poll failed: {e.Message}");
                }
            }

            try
            {
                await Task.Delay(20, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public static async Task PrintAsync(E2eResult r, double rate, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(output);
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(inv,
            $"bench e2e: target {rate:F0} orders/s; {r.Measured} measured orders sent in {r.SendSeconds:F1} s, {r.NotAccepted} not accepted, {r.Seen} reached the view, {r.Measured - r.NotAccepted - r.Seen} did not within the drain time"));
        await output.WriteLineAsync(string.Create(inv, $"bench e2e: latency p50 {r.P50:F0} ms, p99 {r.P99:F0} ms, max {r.Max:F0} ms (send → row visible, 20 ms poll included)"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.orders_per_s value={r.OrdersPerSecond:F0} unit=orders/s"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.p99_ms value={(double.IsNaN(r.P99) ? -1 : r.P99):F0} unit=ms"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.p50_ms value={(double.IsNaN(r.P50) ? -1 : r.P50):F0} unit=ms"));
    }
}
