using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Fulfillment.Demo;

/// <summary>What one e2e run measured.</summary>
/// <param name="Measured">Orders sent after the warm-up.</param>
/// <param name="Seen">Of those, how many reached the view (an allocation decision or a backorder row).</param>
/// <param name="OrdersPerSecond">Seen orders divided by the time from the first measured send to the last one seen.</param>
/// <param name="LatenciesMs">Send → visible in the view, per seen order, sorted.</param>
public sealed record E2eResult(long Measured, long Seen, long NotAccepted, double OrdersPerSecond, double[] LatenciesMs, double SendSeconds)
{
    /// <summary>The rate the run was asked to send at.</summary>
    public double TargetRate { get; init; }

    /// <summary>Every order sent, warm-up included (what the CPU figures are divided by).</summary>
    public long SentTotal { get; init; }

    /// <summary>CPU time per order of each process of the stack, the driver and Postgres, from the first send until the
    /// last order was visible (or the drain gave up), less the idle CPU of that span when it was measured.</summary>
    public IReadOnlyList<(string Component, double MicrosPerOrder)> Cpu { get; init; } = [];

    /// <summary>Highest backlog each stage reported during the run.</summary>
    public IReadOnlyDictionary<string, double> PeakBacklog { get; init; } = new Dictionary<string, double>();

    public string LoadBefore { get; init; } = "?";

    public string LoadAfter { get; init; } = "?";

    public double P50 => Percentiles.Of(LatenciesMs, 0.50);

    public double P99 => Percentiles.Of(LatenciesMs, 0.99);

    public double Max => LatenciesMs.Length == 0 ? double.NaN : LatenciesMs[^1];

    /// <summary>Measured orders sent per second of the measured span (the sender may fall behind its target).</summary>
    public double SentPerSecond => SendSeconds <= 0 ? 0 : Measured / SendSeconds;

    /// <summary>The run held its rate: the sender kept up (97 %), every order was accepted and reached the view, and
    /// p99 stayed under <paramref name="p99LimitMs"/>.</summary>
    public bool Held(double p99LimitMs) =>
        Measured > 0 && NotAccepted == 0 && Seen == Measured && SentPerSecond >= 0.97 * TargetRate && P99 < p99LimitMs;

    /// <summary>Sustained throughput: orders that made it, over the span from the first send to the last arrival.</summary>
    public static double Throughput(long seen, double firstSendSeconds, double lastSeenSeconds) =>
        seen == 0 || lastSeenSeconds <= firstSendSeconds ? 0 : seen / (lastSeenSeconds - firstSendSeconds);
}

/// <summary>
/// <c>bench</c>: signed webhook in → connector → orders topic → inventory pool processor → allocations topic → views
/// sink → Postgres. Orders are sent open-loop at the given rate over real HTTP; every 10 ms the bench reads which
/// orders got an allocation decision or a backorder row since it last looked (<see cref="VisibilityProbe"/>: committed,
/// visible to any reader), so each latency is an upper bound by up to the poll interval. Warm-up orders are sent first
/// and not measured. <see cref="FindMaxAsync"/> steps the rate up to the highest one that holds a p99 limit.
/// </summary>
public sealed class E2eBench(
    OrderGenerator generator, WebhookSender sender, NpgsqlDataSource dataSource, string viewsSchema, ChannelApiStub? stub,
    StackObserver observer, TextWriter output)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    private static readonly TimeSpan FirstStepWarmUp = TimeSpan.FromSeconds(20);

    private IReadOnlyDictionary<string, double>? _idle;

    /// <summary>Drains give up after this long without a new order becoming visible.</summary>
    public TimeSpan StallLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Measures what every component spends with no traffic (fetch polls, timers, scrapes), so the runs'
    /// CPU per order counts only the work orders cause.</summary>
    public async Task MeasureIdleAsync(TimeSpan span, CancellationToken ct)
    {
        var before = observer.Cpu();
        var clock = Stopwatch.StartNew();
        await Task.Delay(span, ct);
        var after = observer.Cpu();
        _idle = after.RateSince(before, clock.Elapsed.TotalSeconds);
        if (_idle.Count > 1)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"bench e2e: idle CPU over {span.TotalSeconds:F0} s (subtracted from CPU per order): {string.Join(", ", _idle.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value * 100:F1} %"))} of a core; total {_idle.Values.Sum() * 100:F0} %"));
        }
    }

    public async Task<E2eResult> RunAsync(double rate, TimeSpan duration, TimeSpan warmUp, int maxInFlight, CancellationToken ct)
    {
        var sentAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var seenAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var measured = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        long notAccepted = 0;
        long measuredSeen = 0;
        long sentTotal = 0;
        var peak = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
        var loadBefore = StackObserver.LoadAverage();
        await using var probe = await VisibilityProbe.InstallAsync(dataSource, viewsSchema, ct);
        var clock = Stopwatch.StartNew();
        var cpuBefore = observer.Cpu();
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var poller = Task.Run(() => PollAsync(probe, sentAt, seenAt, measured, () => Interlocked.Increment(ref measuredSeen), clock, polling.Token), CancellationToken.None);
        var watcher = Task.Run(() => WatchBacklogAsync(peak, polling.Token), CancellationToken.None);

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

                sentTotal++;
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
        // Drain: wait until every measured order is visible, or StallLimit without progress.
        var lastProgress = clock.Elapsed;
        long lastCount = -1;
        while (!ct.IsCancellationRequested && Interlocked.Read(ref measuredSeen) < measured.Count)
        {
            var seen = Interlocked.Read(ref measuredSeen);
            if (seen != lastCount)
            {
                (lastCount, lastProgress) = (seen, clock.Elapsed);
            }
            else if (clock.Elapsed - lastProgress > StallLimit)
            {
                break;
            }

            await Task.Delay(100, ct);
        }

        var cpuAfter = observer.Cpu();
        var cpuSeconds = clock.Elapsed.TotalSeconds;
        await polling.CancelAsync();
        await poller;
        await watcher;

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
            E2eResult.Throughput(latencies.Count, Math.Max(0, firstMeasured), lastSeenSeconds), [.. latencies], sendSeconds)
        {
            TargetRate = rate,
            SentTotal = sentTotal,
            Cpu = cpuAfter.PerOrderSince(cpuBefore, sentTotal, cpuSeconds, _idle),
            PeakBacklog = new Dictionary<string, double>(peak, StringComparer.Ordinal),
            LoadBefore = loadBefore,
            LoadAfter = StackObserver.LoadAverage(),
        };
    }

    /// <summary>
    /// Step search for the highest rate that holds (<see cref="E2eResult.Held"/>): ×1.5 from <paramref name="from"/>
    /// until a step fails, then two bisection steps between the last rate that held and the first that did not. Each
    /// step drains before the next; a step whose drain stalled ends the search (its leftovers would skew the next).
    /// </summary>
    public async Task<(E2eResult? Best, IReadOnlyList<E2eResult> Steps)> FindMaxAsync(
        double from, double ceiling, double p99LimitMs, TimeSpan stepDuration, TimeSpan warmUp, int maxInFlight, CancellationToken ct)
    {
        var steps = new List<E2eResult>();
        E2eResult? held = null;
        E2eResult? failed = null;
        for (var rate = from; rate <= ceiling && !ct.IsCancellationRequested; rate = Math.Round(rate * 1.5))
        {
            var r = await StepAsync(rate);
            if (!r.Held(p99LimitMs))
            {
                failed = r;
                break;
            }

            held = r;
        }

        for (var i = 0; i < 2 && held is not null && failed is not null && failed.Seen == failed.Measured && !ct.IsCancellationRequested; i++)
        {
            var mid = Math.Round((held.TargetRate + failed.TargetRate) / 2);
            if (mid - held.TargetRate < held.TargetRate * 0.08)
            {
                break;
            }

            var r = await StepAsync(mid);
            if (r.Held(p99LimitMs))
            {
                held = r;
            }
            else
            {
                failed = r;
            }
        }

        return (held, steps);

        async Task<E2eResult> StepAsync(double rate)
        {
            // The first step also warms the stack up (JIT, connection pools, the first batches' plans): it gets at least
            // FirstStepWarmUp. With 6 s the first step (100/s) measured start-up too: p99 285 and 323 ms in two runs; after
            // 20 s, 206 and 264 ms — close to the limit either way at this machine's CPU cost per order at low rates.
            var r = await RunAsync(rate, stepDuration, steps.Count == 0 ? Max(warmUp * 2, FirstStepWarmUp) : warmUp, maxInFlight, ct);
            steps.Add(r);
            var inv = CultureInfo.InvariantCulture;
            await output.WriteLineAsync(string.Create(inv,
                $"bench e2e: step {rate:F0}/s: sent {r.SentPerSecond:F0}/s, {r.Seen}/{r.Measured} visible, p50 {r.P50:F0} ms, p99 {r.P99:F0} ms, {r.OrdersPerSecond:F0} orders/s → {(r.Held(p99LimitMs) ? "holds" : "does not hold")} (load {r.LoadBefore} → {r.LoadAfter}){Backlog(r)}"));
            return r;
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static async Task PollAsync(
        VisibilityProbe probe, ConcurrentDictionary<string, long> sentAt, ConcurrentDictionary<string, long> seenAt,
        ConcurrentDictionary<string, byte> measured, Action measuredSeen, Stopwatch clock, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var ids = await probe.NewlyVisibleAsync(ct);
                var now = clock.ElapsedTicks;
                foreach (var id in ids)
                {
                    if (sentAt.ContainsKey(id) && seenAt.TryAdd(id, now) && measured.ContainsKey(id))
                    {
                        measuredSeen();
                    }
                }

                await Task.Delay(PollInterval, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task WatchBacklogAsync(ConcurrentDictionary<string, double> peak, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                foreach (var (label, value) in await observer.BacklogAsync(ct))
                {
                    peak.AddOrUpdate(label, value, (_, old) => Math.Max(old, value));
                }

                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static string Backlog(E2eResult r) =>
        r.PeakBacklog.Count == 0 ? "" : "; peak backlog: " + string.Join(", ", r.PeakBacklog.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F0}")));

    /// <summary>The fixed-rate run's report: summary lines and the <c>e2e.*</c> RESULT lines.</summary>
    public static async Task PrintAsync(E2eResult r, double rate, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(output);
        var inv = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(inv,
            $"bench e2e: target {rate:F0} orders/s; {r.Measured} measured orders sent in {r.SendSeconds:F1} s ({r.SentPerSecond:F0}/s), {r.NotAccepted} not accepted, {r.Seen} reached the view, {r.Measured - r.NotAccepted - r.Seen} did not within the drain time (load {r.LoadBefore} → {r.LoadAfter})"));
        await output.WriteLineAsync(string.Create(inv, $"bench e2e: latency p50 {r.P50:F0} ms, p99 {r.P99:F0} ms, max {r.Max:F0} ms (send → row visible, 10 ms poll included){Backlog(r)}"));
        await PrintCpuAsync(r, output);
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.orders_per_s value={r.OrdersPerSecond:F0} unit=orders/s"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.p99_ms value={(double.IsNaN(r.P99) ? -1 : r.P99):F0} unit=ms"));
        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.p50_ms value={(double.IsNaN(r.P50) ? -1 : r.P50):F0} unit=ms"));
        if (r.Cpu.Count > 1)
        {
            await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.cpu_us_per_order value={r.Cpu.Sum(c => c.MicrosPerOrder):F0} unit=us"));
        }
    }

    /// <summary>The step search's report and RESULT lines (rate 0 when not even the first step held).</summary>
    public static async Task PrintMaxAsync(E2eResult? best, IReadOnlyList<E2eResult> steps, double p99LimitMs, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(output);
        var inv = CultureInfo.InvariantCulture;
        var limit = p99LimitMs.ToString("F0", inv);
        if (best is null)
        {
            await output.WriteLineAsync($"bench e2e: no step held p99 < {limit} ms ({steps.Count} tried)");
        }
        else
        {
            await output.WriteLineAsync(string.Create(inv,
                $"bench e2e: highest rate holding p99 < {limit} ms: {best.TargetRate:F0} orders/s (p50 {best.P50:F0} ms, p99 {best.P99:F0} ms; {steps.Count} steps; load {best.LoadBefore} → {best.LoadAfter})"));
            await PrintCpuAsync(best, output);
        }

        await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.max_rate_p99_under_{limit}ms value={best?.TargetRate ?? 0:F0} unit=orders/s"));
        if (best is not null)
        {
            await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.max_rate.p99_ms value={best.P99:F0} unit=ms"));
            if (best.Cpu.Count > 1)
            {
                await output.WriteLineAsync(string.Create(inv, $"RESULT name=e2e.max_rate.cpu_us_per_order value={best.Cpu.Sum(c => c.MicrosPerOrder):F0} unit=us"));
            }
        }
    }

    private static Task PrintCpuAsync(E2eResult r, TextWriter output) =>
        r.Cpu.Count == 0
            ? Task.CompletedTask
            : output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"bench e2e: CPU per order (all {r.SentTotal} sent, first send to last visible, idle subtracted): {string.Join(", ", r.Cpu.Select(c => $"{c.Component} {c.MicrosPerOrder:F0} µs"))}; total {r.Cpu.Sum(c => c.MicrosPerOrder):F0} µs"));
}
