using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Fulfillment.Demo;

internal static class Program
{
    /// <summary>What the e2e bench receives of every SKU at every site: more than any run sells.</summary>
    private const int BenchStockPerSku = 1_000_000;

    private const string Usage = """
        usage: Fulfillment.Demo <command> [options]

          run [--rate N] [--duration S|0] [--plain] [--ledger FILE] [--seed N] [--linger] [--wait-for-hub S] [--footer FILE]
                  realistic multi-channel traffic against a running hub with a live view; --duration 0 (default) runs
                  until SIGINT/SIGTERM; --plain prints a block every few seconds instead of redrawing (automatic when
                  stdout is not a terminal); --ledger appends accepted orders and cancellations for `verify`;
                  --linger keeps serving the channel API stub after the traffic until SIGINT/SIGTERM; --wait-for-hub
                  first waits up to S seconds for the webhook connector's and the API's /health to answer 200;
                  --footer shows FILE's text under every redrawn frame once it exists
          bench [--rate N] [--duration S] [--warmup S] [--find-max [--find-from N] [--step-duration S] [--p99-limit MS]]
                [--pids-dir DIR] [--postgres-pid-file FILE] [--metrics NAME=URL,...] [--no-stock]
                  end-to-end benchmark: signed webhook → allocation → Postgres view; prints RESULT lines. With the
                  REST API configured it first stocks every demo site of every pool (1,000,000 of each SKU; --no-stock
                  leaves them empty, so every order is backordered). --find-max
                  first steps the rate up (×1.5 from --find-from, default 100, up to --rate) to the highest rate whose
                  p99 stays under --p99-limit (default 250 ms; 3 s warm-up per step, 20 s before the first); then
                  the fixed-rate run. With the stack's pid files,
                  postmaster.pid and /metrics URLs it also reports CPU per order per process and each stage's backlog
          verify --ledger FILE [--timeout S] [--pushes]
                  the fault drills' checks after recovery; exit 0 only when all pass

        environment: Demo__WebhookUrl (default http://127.0.0.1:18110), Demo__ApiUrl + Demo__ApiKey (REST API; without
          them no stock, transfers or shipments), Postgres__ConnectionString (views; live figures, shipping, verify),
          Demo__ViewsSchema (default views), Demo__ChannelApiUrl (where to serve the channel API stub the connector and
          the channel-sync worker call, e.g. http://127.0.0.1:18190), Channels__Shops__N__* (the same shops, pools and
          secrets the webhook connector is configured with)
        """;

    private static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        var config = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        try
        {
            return args[0] switch
            {
                "run" => await RunAsync(args, config, stop.Token),
                "bench" => await BenchAsync(args, config, stop.Token),
                "verify" => await VerifyAsync(args, config, stop.Token),
                _ => Fail($"unknown command '{args[0]}'\n{Usage}"),
            };
        }
        catch (InvalidOperationException e)
        {
            return Fail(e.Message);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
    }

    private static async Task<int> RunAsync(string[] args, IConfiguration config, CancellationToken stop)
    {
        var seconds = Number(args, "--duration", 0);
        var options = new DemoOptions
        {
            Rate = Number(args, "--rate", 50),
            Duration = seconds > 0 ? TimeSpan.FromSeconds(seconds) : null,
            Plain = args.Contains("--plain"),
            LedgerPath = Option(args, "--ledger"),
            FooterPath = Option(args, "--footer"),
            Linger = args.Contains("--linger"),
            Seed = (int)Number(args, "--seed", Environment.TickCount & 0x7fffffff),
        };
        var allShops = DemoShops.From(config);
        await using var stub = await StartStubAsync(config, stop);
        if (Option(args, "--wait-for-hub") is not null)
        {
            // The stub is already serving: the connector may call it as soon as it is up.
            await WaitForHubAsync(config, TimeSpan.FromSeconds(Number(args, "--wait-for-hub", 0)), stop);
        }

        if (stub is null && allShops.Any(s => s.Channel == ChannelKind.Ebay))
        {
            Console.WriteLine("demo: eBay shops skipped: eBay orders are polled from the channel API stub, and Demo__ChannelApiUrl is not set");
        }

        var generator = new OrderGenerator(allShops, options.Seed, OrderGenerator.NumberBaseFor(DateTime.UtcNow), includePolled: stub is not null);
        using var sender = new WebhookSender(WebhookUrl(config));
        using var api = Api(config);
        await using var dataSource = DataSource(config);
        var probe = dataSource is null ? null : new ViewsProbe(dataSource, ViewsSchema(config), generator.Shops.Select(s => s.PoolId).ToList());
        return await new DemoRun(options, generator, sender, api, probe, stub, Console.Out).RunAsync(stop);
    }

    private static async Task<int> BenchAsync(string[] args, IConfiguration config, CancellationToken stop)
    {
        var rate = Number(args, "--rate", 5000);
        var duration = TimeSpan.FromSeconds(Number(args, "--duration", 30));
        var warmUp = TimeSpan.FromSeconds(Number(args, "--warmup", 5));
        var p99Limit = Number(args, "--p99-limit", 250);
        var generator = new OrderGenerator(DemoShops.From(config), (int)Number(args, "--seed", 17), OrderGenerator.NumberBaseFor(DateTime.UtcNow));
        await using var dataSource = DataSource(config) ?? throw new InvalidOperationException("bench needs Postgres__ConnectionString (it watches the views)");
        await using var stub = await StartStubAsync(config, stop);
        using var sender = new WebhookSender(WebhookUrl(config), maxConnections: 128);
        var pools = generator.Shops.Select(s => s.PoolId).Distinct(StringComparer.Ordinal).Count();
        using var observer = new StackObserver(Option(args, "--pids-dir"), Option(args, "--postgres-pid-file"), MetricsUrls(Option(args, "--metrics")));
        var bench = new E2eBench(generator, sender, dataSource, ViewsSchema(config), stub, observer, Console.Out);
        using (var api = Api(config))
        {
            if (api is not null && !args.Contains("--no-stock"))
            {
                // Orders should take the path a stocked shop takes (allocation, stock levels, channel available-to-sell),
                // not the cheaper all-backorder one: every site of every pool gets far more of every SKU than a run sells.
                var stocked = generator.Shops.Select(s => s.PoolId).Distinct(StringComparer.Ordinal).ToList();
                var failed = new ConcurrentBag<string>();
                await DemoRun.SetUpPoolsAsync(api, generator.Shops, "bench", (_, _) => BenchStockPerSku, (what, status) =>
                {
                    if (status != 202)
                    {
                        failed.Add($"{what} answered {status}");
                    }
                }, stop);
                if (!failed.IsEmpty)
                {
                    throw new InvalidOperationException($"bench: stocking the pools failed: {string.Join(", ", failed.Distinct())}");
                }

                await WaitForBenchStockAsync(dataSource, ViewsSchema(config), stocked, stop);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"bench e2e: {stocked.Count} pool(s) stocked: {Sites.All.Count} locations, {BenchStockPerSku:N0} of each of {OrderGenerator.Skus.Count} SKUs at each (--no-stock: every order backordered)"));
            }
        }

        await bench.MeasureIdleAsync(TimeSpan.FromSeconds(10), stop);
        if (args.Contains("--find-max"))
        {
            var stepDuration = TimeSpan.FromSeconds(Number(args, "--step-duration", 15));
            var from = Number(args, "--find-from", 100);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench e2e: step search from {from:F0} orders/s (×1.5, at most {rate:F0}), {stepDuration.TotalSeconds:F0} s per step, p99 limit {p99Limit:F0} ms"));
            var (best, steps) = await bench.FindMaxAsync(from, rate, p99Limit, stepDuration, TimeSpan.FromSeconds(3), 512, stop);
            await E2eBench.PrintMaxAsync(best, steps, p99Limit, Console.Out);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bench e2e: {rate:F0} orders/s for {duration.TotalSeconds:F0} s after {warmUp.TotalSeconds:F0} s warm-up, {generator.Shops.Count} shop(s) in {pools} pool(s), webhooks {WebhookUrl(config)}"));
        var result = await bench.RunAsync(rate, duration, warmUp, 512, stop);
        foreach (var kv in sender.Counters.Snapshot().Where(kv => kv.Key.StartsWith("error:", StringComparison.Ordinal)))
        {
            Console.WriteLine($"bench e2e: unexpected answers: {kv.Key[6..]} × {kv.Value}");
        }

        await E2eBench.PrintAsync(result, rate, Console.Out);
        return result.Seen > 0 ? 0 : 1;
    }

    /// <summary>Waits until the views show the bench's stock at every site of every pool, then 5 s more for the channel
    /// pushes it causes to pass: the idle CPU measured next must not include the stocking's own work.</summary>
    private static async Task WaitForBenchStockAsync(NpgsqlDataSource dataSource, string schema, IReadOnlyList<string> pools, CancellationToken ct)
    {
        var expected = (long)pools.Count * Sites.All.Count * OrderGenerator.Skus.Count;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        long seen = 0;
        while ((seen = await StockedRowsAsync()) < expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"bench: the views show {seen} of {expected} stocked SKU × site rows after 3 min");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }

        await Task.Delay(TimeSpan.FromSeconds(5), ct);

        async Task<long> StockedRowsAsync()
        {
            await using var command = dataSource.CreateCommand(
                $"SELECT count(*) FROM {schema}.stock_levels WHERE pool_id = ANY(@pools) AND location_id = ANY(@sites) AND on_hand >= @stock");
            command.Parameters.AddWithValue("pools", pools.ToArray());
            command.Parameters.AddWithValue("sites", Sites.All.Select(s => s.Id).ToArray());
            command.Parameters.AddWithValue("stock", BenchStockPerSku);
            try
            {
                return (long)(await command.ExecuteScalarAsync(ct))!;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                return 0; // the views sink has not created its schema yet
            }
        }
    }

    /// <summary>Polls the webhook connector's and (when configured) the API's <c>/health</c> until both answer 200, so
    /// <c>up</c> can start the demo beside the workers and its start-up overlaps theirs.</summary>
    private static async Task WaitForHubAsync(IConfiguration config, TimeSpan limit, CancellationToken ct)
    {
        var urls = new List<Uri> { new(WebhookUrl(config), "/health") };
        if (config["Demo:ApiUrl"] is { Length: > 0 } api)
        {
            urls.Add(new Uri(new Uri(api), "/health"));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var url in urls)
        {
            while (true)
            {
                try
                {
                    using var response = await http.GetAsync(url, ct);
                    if (response.IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                }

                if (clock.Elapsed > limit)
                {
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"the hub did not answer {url} with 200 within {limit.TotalSeconds:F0} s"));
                }

                await Task.Delay(250, ct);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"demo: hub healthy after {clock.Elapsed.TotalSeconds:F1} s"));
    }

    /// <summary><c>NAME=URL,NAME=URL</c> → name → URL.</summary>
    private static Dictionary<string, Uri> MetricsUrls(string? option) =>
        (option ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(part => part.Split('=', 2))
            .Select(kv => kv.Length == 2 && Uri.TryCreate(kv[1], UriKind.Absolute, out var url)
                ? (kv[0], url)
                : throw new InvalidOperationException($"--metrics takes NAME=URL,..., not '{string.Join('=', kv)}'"))
            .ToDictionary(kv => kv.Item1, kv => kv.url, StringComparer.Ordinal);

    private static async Task<int> VerifyAsync(string[] args, IConfiguration config, CancellationToken stop)
    {
        var ledger = Option(args, "--ledger") ?? throw new InvalidOperationException("verify needs --ledger FILE (written by run --ledger)");
        await using var dataSource = DataSource(config) ?? throw new InvalidOperationException("verify needs Postgres__ConnectionString");
        var pools = DemoShops.From(config).Select(s => s.PoolId).ToList();
        var probe = new ViewsProbe(dataSource, ViewsSchema(config), pools);
        return await new DrillChecks(probe, Console.Out).VerifyAsync(ledger, TimeSpan.FromSeconds(Number(args, "--timeout", 180)), args.Contains("--pushes"), stop);
    }

    private static async Task<ChannelApiStub?> StartStubAsync(IConfiguration config, CancellationToken ct)
    {
        if (config["Demo:ChannelApiUrl"] is not { Length: > 0 } url)
        {
            return null;
        }

        var stub = new ChannelApiStub();
        await stub.StartAsync(url, ct);
        return stub;
    }

    private static Uri WebhookUrl(IConfiguration config) => new(config["Demo:WebhookUrl"] is { Length: > 0 } u ? u : "http://127.0.0.1:18110");

    private static string ViewsSchema(IConfiguration config) => config["Demo:ViewsSchema"] is { Length: > 0 } s ? s : "views";

    private static HubApi? Api(IConfiguration config) =>
        config["Demo:ApiUrl"] is { Length: > 0 } url
            ? new HubApi(new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(15) },
                config["Demo:ApiKey"] is { Length: > 0 } key ? key : throw new InvalidOperationException("Demo__ApiUrl is set but Demo__ApiKey is not"))
            : null;

    private static NpgsqlDataSource? DataSource(IConfiguration config) =>
        config["Postgres:ConnectionString"] is { Length: > 0 } cs ? NpgsqlDataSource.Create(cs) : null;

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static double Number(string[] args, string name, double fallback) =>
        Option(args, name) is { } v
            ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= 0 ? d : throw new InvalidOperationException($"{name} needs a non-negative number, not '{v}'")
            : fallback;

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"fulfillment-demo: {message}");
        return 2;
    }
}
