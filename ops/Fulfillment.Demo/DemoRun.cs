using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Fulfillment.Demo;

/// <summary>Settings of one <c>run</c>.</summary>
public sealed class DemoOptions
{
    /// <summary>New orders per second (duplicates and bad deliveries come on top).</summary>
    public double Rate { get; set; } = 50;

    /// <summary>Run this long; null = until SIGINT/SIGTERM.</summary>
    public TimeSpan? Duration { get; set; }

    /// <summary>Plain lines every few seconds instead of an ANSI redraw (always when stdout is not a terminal).</summary>
    public bool Plain { get; set; }

    /// <summary>A text file shown under every redrawn frame once it exists (<c>up --demo</c> writes where everything is
    /// into it: the redraw clears the screen, and the addresses `up` printed would be gone a second later).</summary>
    public string? FooterPath { get; set; }

    public double DuplicateRate { get; set; } = 0.02;

    public double BadSignatureRate { get; set; } = 0.01;

    public double MalformedRate { get; set; } = 0.005;

    public double CancelRate { get; set; } = 0.03;

    public int Seed { get; set; } = Environment.TickCount;

    /// <summary>File to append accepted orders and cancellations to (<c>order ID</c> / <c>cancel ID</c>), for the drills' checks.</summary>
    public string? LedgerPath { get; set; }

    public TimeSpan ShipEvery { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan ReplenishEvery { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan TransferEvery { get; set; } = TimeSpan.FromSeconds(10);

    public int MaxInFlight { get; set; } = 256;

    public TimeSpan ReportEvery { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>After the traffic, keep serving the channel API stub until SIGINT/SIGTERM: pushes retried after the run
    /// (a drill's recovery) still find the channel there.</summary>
    public bool Linger { get; set; }
}

/// <summary>
/// Realistic multi-channel traffic against a running hub: signed orders from every configured shop in its channel's own
/// shape, duplicates and bad deliveries at small rates, cancellations; warehouse work through the REST API (locations
/// and opening stock, replenishment receipts, transfers between warehouses, ship confirmations for what was
/// allocated); a live view of throughput, ack latency, allocation, backorders, stock and errors.
/// </summary>
public sealed class DemoRun(
    DemoOptions options, OrderGenerator generator, WebhookSender sender, HubApi? api, ViewsProbe? probe, ChannelApiStub? stub,
    TextWriter output)
{
    private readonly OrderBook _book = new();
    private readonly ConcurrentQueue<(DemoOrder Order, long AcceptedAt)> _cancellable = new();
    private readonly ConcurrentQueue<WebhookDelivery> _recent = new();
    private readonly SendCounters _api = new();
    private readonly string _runTag = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
    private readonly ConcurrentBag<Task> _background = [];
    private Ledger? _ledger;
    private ViewSnapshot? _view;
    private string? _viewError;
    private long _ordersSent;
    private long _ebayPublished;

    public SendCounters ApiCounters => _api;

    public async Task<int> RunAsync(CancellationToken stop)
    {
        _ledger = options.LedgerPath is { } path ? new Ledger(path) : null;
        var pools = generator.Shops.Select(s => s.PoolId).Distinct(StringComparer.Ordinal).ToList();
        await output.WriteLineAsync($"demo: {generator.Shops.Count} shop(s): {string.Join(", ", generator.Shops)}");
        if (api is null)
        {
            await output.WriteLineAsync("demo: no REST API configured (Demo__ApiUrl): no locations, stock, transfers or ship confirmations; orders will backorder");
        }

        using var running = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var token = running.Token;
        // Traffic starts at once and the pools are set up beside it (locations, channel mapping, opening stock), as orders
        // reach a shop going live whether or not the warehouse is ready: the first ones wait as backorders and are
        // allocated first-in first-out when the opening stock lands. Set-up first held `up --demo`'s first numbers back
        // by the API's first seconds (3-4 s on a fresh machine). Replenishment, shipping and transfers need the
        // locations, so they start once the set-up is done; a failed set-up stops the run and is rethrown below.
        var setUp = api is null ? Task.CompletedTask : SetUpAsync(generator.Shops, token);
        var loops = new List<Task> { ReportLoopAsync(token), CancelLoopAsync(token), AfterSetUpAsync() };

        var started = Stopwatch.StartNew();
        try
        {
            await SendLoopAsync(started, token);
        }
        finally
        {
            await running.CancelAsync();
            await Quietly(Task.WhenAll(loops));
            // Transfers and ship confirmations already begun are finished, so the books balance when the demo stops.
            await Quietly(Task.WhenAll(_background).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
            _ledger?.Dispose();
        }

        if (setUp.IsFaulted)
        {
            await setUp; // the set-up's own error, not the cancellation it caused
        }

        await RefreshViewAsync(CancellationToken.None);
        await output.WriteLineAsync(Render(started.Elapsed, final: true));
        if (options.Linger && stub is not null && !stop.IsCancellationRequested)
        {
            await output.WriteLineAsync("demo: traffic done; the channel API stub keeps serving until SIGINT/SIGTERM");
            await output.FlushAsync(CancellationToken.None);
            await Quietly(Task.Delay(Timeout.Infinite, stop));
        }

        return 0;

        async Task AfterSetUpAsync()
        {
            try
            {
                await setUp;
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
                await running.CancelAsync();
                return;
            }

            if (api is null)
            {
                return;
            }

            var background = new List<Task> { Every(options.ReplenishEvery, ct => ReplenishAsync(pools, ct), token) };
            if (probe is not null)
            {
                background.Add(Every(options.ShipEvery, ShipAsync, token));
                background.Add(Every(options.TransferEvery, ct => TransferAsync(pools, ct), token));
            }

            await Task.WhenAll(background);
        }
    }

    private async Task SendLoopAsync(Stopwatch clock, CancellationToken ct)
    {
        using var inFlight = new SemaphoreSlim(options.MaxInFlight);
        long due = 0;
        var random = new Random(options.Seed ^ 0x5eed);
        var tasks = new List<Task>();
        try
        {
            while (!ct.IsCancellationRequested && (options.Duration is not { } d || clock.Elapsed < d))
            {
                var target = (long)(clock.Elapsed.TotalSeconds * options.Rate);
                while (due < target && !ct.IsCancellationRequested && (options.Duration is not { } end || clock.Elapsed < end))
                {
                    due++;
                    if (Next(random) is not { } delivery)
                    {
                        // An eBay order: published on the stub for the connector's poller, nothing to send.
                        continue;
                    }

                    await inFlight.WaitAsync(ct);
                    tasks.Add(SendTrackedAsync(delivery, inFlight, ct));
                }

                tasks.RemoveAll(t => t.IsCompleted);
                await Task.Delay(2, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        await Quietly(Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
    }

    /// <returns>The next webhook delivery, or null when the next order was an eBay one (published on the channel API
    /// stub, where the connector polls it; it is in the ledger from then on, since the poll must bring it in).</returns>
    private WebhookDelivery? Next(Random random)
    {
        var r = random.NextDouble();
        var now = DateTime.UtcNow;
        if (r < options.DuplicateRate && _recent.TryPeek(out var earlier))
        {
            return earlier.AsDuplicate();
        }

        r -= options.DuplicateRate;
        var order = generator.Next(now);
        if (order.Shop.Channel == ChannelKind.Ebay)
        {
            stub!.PublishEbay(order);
            Interlocked.Increment(ref _ordersSent);
            Interlocked.Increment(ref _ebayPublished);
            _ledger?.Write("order", order.HubOrderId);
            _cancellable.Enqueue((order, Stopwatch.GetTimestamp()));
            return null;
        }

        if (r >= 0 && r < options.BadSignatureRate)
        {
            return Payloads.WithBadSignature(Payloads.Create(order));
        }

        r -= options.BadSignatureRate;
        if (r >= 0 && r < options.MalformedRate)
        {
            return Payloads.Malformed(order);
        }

        stub?.Register(order);
        _book.Add(order);
        Interlocked.Increment(ref _ordersSent);
        return Payloads.Create(order);
    }

    private async Task SendTrackedAsync(WebhookDelivery delivery, SemaphoreSlim inFlight, CancellationToken ct)
    {
        try
        {
            var result = await sender.SendAsync(delivery, ct);
            if (delivery.Kind == DeliveryKind.Order && result.Status == 200 && result.Outcome == "accepted" && delivery.HubOrderId is { } id)
            {
                _ledger?.Write("order", id);
                Remember(delivery);
                if (_book.TryGetPending(id, out var order))
                {
                    _cancellable.Enqueue((order, Stopwatch.GetTimestamp()));
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            inFlight.Release();
        }
    }

    private void Remember(WebhookDelivery delivery)
    {
        _recent.Enqueue(delivery);
        while (_recent.Count > 64 && _recent.TryDequeue(out _))
        {
        }
    }

    // --- cancellations --------------------------------------------------------------------------------------------
    private async Task CancelLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(250, ct);
            var ripe = Stopwatch.GetTimestamp() - Stopwatch.Frequency * 3 / 2;
            while (_cancellable.TryPeek(out var head) && head.AcceptedAt < ripe && _cancellable.TryDequeue(out var item))
            {
                if (Random.Shared.NextDouble() >= options.CancelRate || !_book.TryClaimCancel(item.Order.HubOrderId))
                {
                    continue;
                }

                if (item.Order.Shop.Channel == ChannelKind.Ebay)
                {
                    stub!.CancelEbay(item.Order, DateTime.UtcNow);
                    _ledger?.Write("cancel", item.Order.HubOrderId);
                    continue;
                }

                var cancel = Payloads.Cancel(item.Order, DateTime.UtcNow);
                var result = await sender.SendAsync(cancel, ct);
                if (result.Status == 200 && result.Outcome == "accepted")
                {
                    _ledger?.Write("cancel", item.Order.HubOrderId);
                }
            }
        }
    }

    // --- warehouse work over the REST API -------------------------------------------------------------------------
    private async Task SetUpAsync(IReadOnlyList<DemoShop> shops, CancellationToken ct)
    {
        // Opening stock, once per pool and site (a fixed key: a second demo run on the same stack does not add it again).
        var pools = await SetUpPoolsAsync(api!, shops, "opening", OpeningStock, Count, ct);
        await output.WriteLineAsync($"demo: {pools} pool(s) set up with {Sites.All.Count} locations each ({string.Join(", ", Sites.All.Select(s => s.Id))}), every site serving every channel");
    }

    /// <summary>Every demo site as a location of every pool of <paramref name="shops"/>, every site mapped to each
    /// channel the pool sells on, then one receipt per pool and site with <paramref name="quantity"/>(SKU index, site)
    /// of every SKU (receipt id <c>{receiptPrefix}-{pool}-{site}</c>, so a second run with the same prefix adds
    /// nothing). Each call's HTTP status goes to <paramref name="count"/>. Returns the number of pools.</summary>
    public static async Task<int> SetUpPoolsAsync(
        HubApi api, IReadOnlyList<DemoShop> shops, string receiptPrefix, Func<int, Site, int> quantity, Action<string, int> count, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(shops);
        ArgumentNullException.ThrowIfNull(quantity);
        ArgumentNullException.ThrowIfNull(count);
        var pools = shops.Select(s => s.PoolId).Distinct(StringComparer.Ordinal).ToList();
        // Independent keyed calls, so all at once (one after another took 5-7 s of `up --demo`'s start on a loaded
        // machine); the locations first, so a receipt never names a location the pool does not know yet.
        var locations = pools.SelectMany(pool => Sites.All.Select(async site =>
            count("location", await api.UpsertLocationAsync(pool, site.Id, site.Name, site.Kind, site.Country, site.CountriesServed, site.Priority, site.Provider, ct))));
        await Task.WhenAll(locations);
        // A pool reports available-to-sell only for the channels it has been configured for: mapping every site to each
        // of its channels (the same eligibility as no mapping) before the receipts makes the first stock levels already
        // carry per-channel figures, which the channel-sync worker pushes to each shop.
        var channels = shops.Select(s => (s.PoolId, s.Channel)).Distinct().Select(async pc =>
            count("channel-locations", await api.SetChannelLocationsAsync(pc.PoolId, pc.Channel.ToString(), [.. Sites.All.Select(s => s.Id)], ct)));
        await Task.WhenAll(channels);
        var receipts = pools.SelectMany(pool => Sites.All.Select(async site =>
            count($"{receiptPrefix}-stock", await api.ReceiveAsync(pool, site.Id, $"{receiptPrefix}-{pool}-{site.Id}",
                [.. OrderGenerator.Skus.Select((sku, i) => new HubApi.Line(sku, quantity(i, site)))], ct))));
        await Task.WhenAll(receipts);
        return pools.Count;
    }

    /// <summary>Best sellers (low index) get more; the 3PL holds a smaller buffer.</summary>
    public static int OpeningStock(int skuIndex, Site site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var count = OrderGenerator.Skus.Count;
        var baseline = 8 + ((count - skuIndex) * 60 / count);
        return site.Kind == "ThirdParty" ? Math.Max(2, baseline / 3) : baseline;
    }

    private async Task ReplenishAsync(IReadOnlyList<string> pools, CancellationToken ct)
    {
        foreach (var pool in pools)
        {
            var site = Sites.All[Random.Shared.Next(Sites.All.Count)];
            var skus = Enumerable.Range(0, 8).Select(_ => OrderGenerator.Skus[(int)(Math.Pow(Random.Shared.NextDouble(), 2) * OrderGenerator.Skus.Count)])
                .Distinct(StringComparer.Ordinal).Select(s => new HubApi.Line(s, Random.Shared.Next(15, 41))).ToList();
            var receipt = $"rcv-{_runTag}-{pool}-{Interlocked.Increment(ref _receipts)}";
            Count("receipt", await api!.ReceiveAsync(pool, site.Id, receipt, skus, ct));
        }
    }

    private long _receipts;
    private long _transfers;

    private async Task TransferAsync(IReadOnlyList<string> pools, CancellationToken ct)
    {
        foreach (var pool in pools)
        {
            var warehouses = Sites.Warehouses.Select(w => w.Id).ToHashSet(StringComparer.Ordinal);
            var candidates = (await probe!.AvailableAsync(pool, 40, ct)).Where(c => warehouses.Contains(c.LocationId)).ToList();
            if (candidates.Count == 0)
            {
                continue;
            }

            var pick = candidates[Random.Shared.Next(candidates.Count)];
            var to = Sites.Warehouses.Where(w => w.Id != pick.LocationId).ElementAt(Random.Shared.Next(Sites.Warehouses.Count - 1)).Id;
            var quantity = Random.Shared.Next(5, 11);
            var transferId = $"tr-{_runTag}-{pool}-{Interlocked.Increment(ref _transfers)}";
            var shortBy = Random.Shared.NextDouble() < 0.1 ? 1 : 0;
            // Request, ship and receive take a few seconds in the demo (days in a warehouse); run it beside the loop.
            _background.Add(Task.Run(async () =>
            {
                HubApi.Line[] lines = [new(pick.Sku, quantity)];
                Count("transfer-request", await api!.RequestTransferAsync(pool, transferId, pick.LocationId, to, lines, CancellationToken.None));
                await Task.Delay(1000, CancellationToken.None);
                Count("transfer-ship", await api!.ShipTransferAsync(pool, transferId, pick.LocationId, to, lines, CancellationToken.None));
                await Task.Delay(1500, CancellationToken.None);
                Count("transfer-receive", await api!.ReceiveTransferAsync(pool, transferId, pick.LocationId, to,
                    [new(pick.Sku, quantity, quantity - shortBy)], CancellationToken.None));
            }, CancellationToken.None));
        }
    }

    private async Task ShipAsync(CancellationToken ct)
    {
        var lines = await probe!.ShippableAsync(200, ct);
        foreach (var order in lines.GroupBy(l => l.OrderId))
        {
            if (!_book.TryClaimShip(order.Key))
            {
                continue;
            }

            foreach (var atSite in order.GroupBy(l => l.LocationId))
            {
                var first = atSite.First();
                var shipmentId = "shp-" + Hash($"{first.OrderId}|{first.LocationId}");
                var tracking = "1Z" + Hash(shipmentId)[..16].ToUpperInvariant();
                var shipment = new HubApi.Shipment(shipmentId, first.OrderId, first.Channel, first.ShopId, first.ChannelOrderId, first.LocationId,
                    "UPS", "Ground", tracking, $"https://www.ups.com/track?tracknum={tracking}",
                    [.. atSite.Select(l => new HubApi.ShipmentLine(l.LineId, l.Sku, l.Quantity))]);
                Count("ship-confirmation", await api!.ConfirmShipmentAsync(first.PoolId, shipment, CancellationToken.None));
            }
        }
    }

    private void Count(string what, int status) =>
        _api.Add(status == 202 ? $"{what} accepted" : $"error:{what} answered {(status == 0 ? "unreachable" : status.ToString(CultureInfo.InvariantCulture))}");

    private static string Hash(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..24];

    // --- live view ------------------------------------------------------------------------------------------------
    private async Task ReportLoopAsync(CancellationToken ct)
    {
        var tty = !options.Plain && !Console.IsOutputRedirected;
        var every = tty ? TimeSpan.FromSeconds(1) : options.ReportEvery;
        var clock = Stopwatch.StartNew();
        var lastView = TimeSpan.Zero;
        var refresh = Task.CompletedTask;
        var first = true;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // The first frame right away (the views read comes later): `up --demo` should show numbers within seconds.
                await Task.Delay(first ? TimeSpan.FromMilliseconds(200) : every, ct);
                first = false;
                // The views are read in the background (a slow query under load must not hold back the frame); a frame
                // shows the last snapshot that arrived.
                if (refresh.IsCompleted && (clock.Elapsed - lastView >= TimeSpan.FromSeconds(2) || lastView == TimeSpan.Zero))
                {
                    refresh = RefreshViewAsync(ct);
                    lastView = clock.Elapsed;
                }

                var text = Render(clock.Elapsed, final: false);
                // ANSI: cursor home, clear screen, then the panel; plain mode prints one block per report.
                await output.WriteAsync(tty ? "\u001b[H\u001b[2J" + text + Footer() + "\n" : text + "\n");
                await output.FlushAsync(ct);
            }
        }
        finally
        {
            await Quietly(refresh);
        }
    }

    private string? _footer;

    private string Footer()
    {
        if (_footer is null && options.FooterPath is { } path && File.Exists(path))
        {
            try
            {
                // Read once: the writer renames the finished file into place, so what exists is complete.
                _footer = "\n" + File.ReadAllText(path).TrimEnd();
            }
            catch (IOException)
            {
            }
        }

        return _footer ?? "";
    }

    private async Task RefreshViewAsync(CancellationToken ct)
    {
        if (probe is null)
        {
            return;
        }

        try
        {
            _view = await probe.SnapshotAsync(ct);
            _viewError = null;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            _viewError = e.Message.Split('\n')[0];
        }
    }

    private long _lastSent;
    private long _lastAcked;
    private TimeSpan _lastAt;

    private string Render(TimeSpan elapsed, bool final)
    {
        var inv = CultureInfo.InvariantCulture;
        var c = sender.Counters;
        var span = (elapsed - _lastAt).TotalSeconds;
        var sent = c.Sent;
        var acked = c.Acked;
        var sentRate = span > 0 ? (sent - _lastSent) / span : 0;
        var ackRate = span > 0 ? (acked - _lastAcked) / span : 0;
        (_lastSent, _lastAcked, _lastAt) = (sent, acked, elapsed);
        var (p50, p99, n) = final ? Whole(sender.AckLatency.All()) : sender.AckLatency.TakeWindow();
        var b = new StringBuilder();
        var progress = options.Duration is { } d && d > TimeSpan.Zero
            ? string.Create(inv, $"{Bar(Math.Min(1, elapsed / d))} {elapsed.TotalSeconds:F0}/{d.TotalSeconds:F0} s")
            : string.Create(inv, $"{elapsed.TotalSeconds:F0} s (until Ctrl-C)");
        b.AppendLine(inv, $"Fulfillment.Streams demo {(final ? "— summary" : "")}  {progress}");
        b.AppendLine(inv, $"  webhooks   sent {sent} ({(final ? sent / Math.Max(0.001, elapsed.TotalSeconds) : sentRate):F0}/s)  acked {acked} ({(final ? acked / Math.Max(0.001, elapsed.TotalSeconds) : ackRate):F0}/s)  new orders {Interlocked.Read(ref _ordersSent)} at {options.Rate:F0}/s target{(Interlocked.Read(ref _ebayPublished) is > 0 and var e ? $" ({e} eBay, polled)" : "")}");
        b.AppendLine(inv, $"  ack        p50 {Ms(p50)}  p99 {Ms(p99)}  ({n} acks {(final ? "in the run" : "this window")})");
        if (_view is { } v)
        {
            b.AppendLine(inv, $"  orders     in view {v.Orders}  allocated {v.OrdersAllocated}  open backorder lines {v.OpenBackorderLines}  shipments {v.Shipments}");
            b.AppendLine(inv, $"  stock      on hand {v.OnHand}  allocated {v.Allocated}  available {v.Available}  ({probe!.Pools.Count} pool(s) × {Sites.All.Count} sites)");
            b.AppendLine(inv, $"  problems   dead letters {v.DeadLetters}  pushes pending {v.PushesPending}  pushes dead-lettered {v.PushesDeadLettered}");
        }
        else
        {
            b.AppendLine(inv, $"  views      {(probe is null ? "not configured (Postgres__ConnectionString)" : "unavailable: " + (_viewError ?? "not read yet"))}");
        }

        var counts = c.Snapshot().Concat(_api.Snapshot()).ToList();
        var errors = counts.Where(kv => kv.Key.StartsWith("error:", StringComparison.Ordinal)).ToList();
        var expected = counts.Where(kv => kv.Key.StartsWith("rejected-as-expected:", StringComparison.Ordinal)).ToList();
        b.AppendLine(inv, $"  rejected   {(expected.Count == 0 ? "none yet" : string.Join("  ", expected.Select(kv => $"{kv.Key["rejected-as-expected:".Length..]}: {kv.Value}")))}");
        b.AppendLine(inv, $"  errors     {(errors.Count == 0 ? "none" : string.Join("  ", errors.Select(kv => $"{kv.Key["error:".Length..]}: {kv.Value}")))}");
        var work = counts.Where(kv => kv.Key.EndsWith(" accepted", StringComparison.Ordinal)).ToList();
        if (work.Count > 0)
        {
            b.AppendLine(inv, $"  warehouse  {string.Join("  ", work.Select(kv => $"{kv.Key[..^" accepted".Length]} {kv.Value}"))}");
        }

        if (stub is not null && stub.Answers.Count > 0)
        {
            b.AppendLine(inv, $"  channel API{(stub.InOutage ? " (OUTAGE)" : "")}  {string.Join("  ", stub.Answers.Select(kv => $"{kv.Key}: {kv.Value}"))}");
        }

        return b.ToString().TrimEnd();
    }

    private static (double, double, int) Whole(double[] sorted) => (Percentiles.Of(sorted, 0.5), Percentiles.Of(sorted, 0.99), sorted.Length);

    private static string Ms(double v) => double.IsNaN(v) ? "–" : v.ToString("F1", CultureInfo.InvariantCulture) + " ms";

    private static string Bar(double fraction)
    {
        const int Width = 24;
        var filled = (int)Math.Round(fraction * Width);
        return "[" + new string('#', filled) + new string('.', Width - filled) + "]";
    }

    private static async Task Every(TimeSpan interval, Func<CancellationToken, Task> work, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, ct);
                await work(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or HttpRequestException or InvalidOperationException)
            {
                // The views or the API are briefly away (a drill restarts them): try again next round.
            }
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
    }

    /// <summary>Orders the demo sent, so a cancellation never races a ship confirmation for the same order.</summary>
    private sealed class OrderBook
    {
        private readonly Lock _gate = new();
        private readonly HashSet<string> _cancelled = new(StringComparer.Ordinal);
        private readonly HashSet<string> _shipping = new(StringComparer.Ordinal);
        private readonly Dictionary<string, DemoOrder> _pending = new(StringComparer.Ordinal);

        public void Add(DemoOrder order)
        {
            lock (_gate)
            {
                _pending[order.HubOrderId] = order;
            }
        }

        public bool TryGetPending(string id, out DemoOrder order)
        {
            lock (_gate)
            {
                return _pending.Remove(id, out order!);
            }
        }

        public bool TryClaimCancel(string id)
        {
            lock (_gate)
            {
                return !_shipping.Contains(id) && _cancelled.Add(id);
            }
        }

        public bool TryClaimShip(string id)
        {
            lock (_gate)
            {
                return !_cancelled.Contains(id) && _shipping.Add(id);
            }
        }
    }

    /// <summary>Append-only record of accepted orders and cancellations, one per line.</summary>
    private sealed class Ledger : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly StreamWriter _writer;

        public Ledger(string path) => _writer = new StreamWriter(path, append: true) { AutoFlush = true };

        public void Write(string kind, string id)
        {
            lock (_gate)
            {
                _writer.WriteLine($"{kind} {id}");
            }
        }

        public void Dispose() => _writer.Dispose();
    }
}
