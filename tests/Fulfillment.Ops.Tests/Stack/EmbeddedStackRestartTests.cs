using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Fulfillment.Ops.Tests.Support;
using Xunit.Abstractions;
using Npgsql;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace Fulfillment.Ops.Tests.Stack;

/// <summary>
/// Issue 7's restart acceptance, on the real embedded stack (`ops/fulfillment up --no-build` in its own run dir and
/// ports, with its own Postgres cluster): stock received through the REST API, signed WooCommerce webhooks, ship
/// confirmations, tracking pushed to a stand-in WooCommerce API; then Ctrl-C, `up` again (an empty development broker,
/// re-seeded from Postgres), and views, stock, durable copies and audit timelines must be what they were, with no push
/// sent to the channel again. Then, on the same running stack (a separate test would cost a third start-up), `up`'s
/// restart policy: a worker SIGKILLed is started again by `up`, logged and counted, and the stack stays up.
/// Slow (two stack start-ups, ~3–4.5 min on a loaded 2-core machine).
/// </summary>
[Trait("Category", "Slow")]
[Collection(EmbeddedStackCollection.Name)]
public sealed class EmbeddedStackRestartTests : IDisposable
{
    private const string Pool = "pool-eu";
    private const string WooShop = "demo-woo";
    private const string Location = "wh-restart";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromMinutes(4);

    private readonly string _wooSecret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    private readonly string _apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    private readonly WireMockServer _woo;
    private readonly EmbeddedStack _stack;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private readonly ITestOutputHelper _log;

    public EmbeddedStackRestartTests(ITestOutputHelper log)
    {
        _log = log;
        _woo = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{Fulfillment.Testing.FreePorts.ConsecutiveRange()}"] });
        StubWooCommerce(_woo);
        _stack = new EmbeddedStack(new Dictionary<string, string> { ["FULFILLMENT_CHANNEL_API_URL"] = _woo.Urls[0] });
        _stack.SetSecret("FULFILLMENT_DEV_SECRET_WOOCOMMERCE", _wooSecret);
        _stack.SetSecret("FULFILLMENT_API_KEY", _apiKey);
    }

    public void Dispose()
    {
        _http.Dispose();
        _stack.Dispose();
        _woo.Stop();
        _woo.Dispose();
    }

    [Fact]
    public async Task Restart_AfterTrafficThenWorkerKilled_SameViewsStockAuditNoPushRepeatedWorkerRestarted()
    {
        try
        {
            await RestartScenarioAsync();
        }
        catch (Exception e) when (e is not ShouldAssertException)
        {
            // Whatever broke (a lost connection, a timeout), `up`'s own account of it and the logs of the services on the
            // path explain it. The error comes first and stays short: CI shows only the first lines of a message.
            throw new InvalidOperationException(
                $"{e.GetType().Name}: {Head(e.Message)}\n--- ops/fulfillment up output (last 60 lines):\n{Tail(_stack.Output, 60)}\n" +
                string.Join("\n", ServicesOnThePath.Select(s => $"--- {s} log (last 20 lines):\n{_stack.LogTail(s, 20)}")), e);
        }
    }

    private async Task RestartScenarioAsync()
    {
        Step("starting the stack");
        _stack.Start(StartTimeout);
        Step("up");
        var orders = Enumerable.Range(0, 4).Select(i => 700_000_000L + Random.Shared.Next(1_000_000) * 10L + i).ToArray();

        await CommandAsync(HttpMethod.Put, $"/pools/{Pool}/locations/{Location}", "loc-1",
            new { name = "Restart test DC", kind = "Warehouse", active = true, countryCode = "US", countriesServed = new[] { "US", "CA" }, priority = 1 });
        await CommandAsync(HttpMethod.Post, $"/pools/{Pool}/stock/receive", "rcpt-1",
            new { locationId = Location, receiptId = "rcpt-restart-1", lines = new[] { new { sku = "RS-STOVE", quantity = 40 }, new { sku = "RS-TENT", quantity = 3 } } });
        await WaitForAsync("stock received", async c => await ScalarAsync<long>(c,
            "SELECT count(*) FROM views.stock_levels WHERE pool_id = @p AND location_id = @l AND on_hand > 0", ("p", Pool), ("l", Location)) == 2);

        Step("stock in views");
        // Orders: three fill from stock, the last one asks for more tents than there are (a backorder).
        for (var i = 0; i < orders.Length; i++)
        {
            var (sku, quantity) = i == orders.Length - 1 ? ("RS-TENT", 5) : ("RS-STOVE", 2);
            var status = await SendWooOrderAsync(orders[i], sku, quantity);
            status.ShouldBe(HttpStatusCode.OK, $"webhook for order {orders[i]}; connector log:\n{_stack.LogTail("connector-webhooks")}");
        }

        // A duplicate delivery of the first order: acknowledged, changes nothing.
        (await SendWooOrderAsync(orders[0], "RS-STOVE", 2)).ShouldBe(HttpStatusCode.OK);
        await WaitForAsync("orders allocated", async c => await ScalarAsync<long>(c,
            "SELECT count(DISTINCT order_id) FROM views.allocation_lines WHERE order_id = ANY(@o)", ("o", orders.Take(3).Select(OrderId).ToArray())) == 3);

        Step("orders allocated");
        foreach (var id in orders.Take(2))
        {
            await CommandAsync(HttpMethod.Post, $"/pools/{Pool}/shipments", $"ship-{id}", new
            {
                shipmentId = $"shp-{id}", orderId = OrderId(id), channel = "WooCommerce", shopId = WooShop, channelOrderId = id.ToString(CultureInfo.InvariantCulture),
                locationId = Location, carrier = "UPS", service = "Ground", trackingNumber = $"1Z{id}", trackingUrl = $"https://ups.example/track/1Z{id}",
                lines = new[] { new { lineId = "315", sku = "RS-STOVE", quantity = 2 } },
            });
        }

        await WaitForAsync("tracking pushed to WooCommerce", _ => Task.FromResult(
            orders.Take(2).All(id => Mutations().Any(m => m.Path == $"/wp-json/wc/v3/orders/{id}/notes"))));
        Step("pushed");
        var before = await SettledSnapshotAsync();
        Step("settled; stopping");
        var positionsBefore = await SinkPositionsAsync();
        var pushesBefore = Mutations();
        var auditBefore = new Dictionary<long, string>();
        foreach (var id in orders)
        {
            auditBefore[id] = await AuditAsync(id);
        }

        Step($"audit timelines read; sink positions {Show(positionsBefore)}; Ctrl-C");
        _stack.Stop(StopTimeout).ShouldBe(130, _stack.Output);
        Step("stopped; starting again");
        _stack.Start(StartTimeout);
        Step($"up again ({_stack.Output.Split('\n').FirstOrDefault(l => l.Contains("reseeded", StringComparison.Ordinal))?.Trim()})");
        _stack.Output.ShouldContain("reseeded the broker from Postgres");

        // The sink re-reads what the re-seeded broker holds and what the processors derive again: wait until it has read
        // as far into every topic as before (positions can differ a little: transaction markers), then until the views
        // stop moving. Whatever is still different then is a real difference.
        await WaitUntilAsync(async () =>
        {
            var now = await SinkPositionsAsync();
            return positionsBefore.All(p => now.GetValueOrDefault(p.Key) >= p.Value);
        }, TimeSpan.FromMinutes(2));
        Step($"sink positions {Show(await SinkPositionsAsync())}");
        var after = await SettledSnapshotAsync();
        Step("settled");

        // Every difference at once, so one run tells all that a restart changes.
        var differences = new List<string>();
        foreach (var table in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            var was = Lines(before.GetValueOrDefault(table));
            var now = Lines(after.GetValueOrDefault(table));
            if (!was.SequenceEqual(now))
            {
                differences.Add($"table {table}:\n  only before: {string.Join("\n               ", was.Except(now).Take(5))}\n  only after:  {string.Join("\n               ", now.Except(was).Take(5))}");
            }
        }

        foreach (var id in orders)
        {
            var audit = await AuditAsync(id);
            if (audit != auditBefore[id])
            {
                differences.Add($"audit timeline of {OrderId(id)}:\n  before: {auditBefore[id]}\n  after:  {audit}");
            }
        }

        var repeated = Mutations().Skip(pushesBefore.Count).ToList();
        if (repeated.Count > 0 || Mutations().Count < pushesBefore.Count)
        {
            differences.Add($"{repeated.Count} call(s) reached the channel again after the restart: {string.Join("; ", repeated.Take(6).Select(m => $"{m.Method} {m.Path}"))}");
        }

        differences.ShouldBeEmpty($"the restart changed what a user sees:\n{string.Join("\n", differences)}");

        Step("identical; killing sink-channel-sync");
        await WorkerKilledIsRestartedAsync("sink-channel-sync");
        Step("worker restarted by up; stopping");
        _stack.Stop(StopTimeout).ShouldBe(130, _stack.Output);
    }

    /// <summary>SIGKILL a worker of the running stack; `up` must start it again (logged, counted in `status`) and the
    /// stack must stay up.</summary>
    private async Task WorkerKilledIsRestartedAsync(string worker)
    {
        var pidFile = Path.Combine(_stack.RunDir, "pids", worker + ".pid");
        var killed = int.Parse(File.ReadAllText(pidFile).Split(' ')[0], CultureInfo.InvariantCulture);
        Shell.Run("kill", ["-KILL", killed.ToString(CultureInfo.InvariantCulture)]).ExitCode.ShouldBe(0);

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        ShellResult status;
        while (true)
        {
            _stack.EnsureRunning();
            status = _stack.Cli("status");
            if (status.ExitCode == 0 && status.StdOut.Contains("restarted by up 1 time(s)", StringComparison.Ordinal))
            {
                break;
            }

            DateTime.UtcNow.ShouldBeLessThan(deadline, $"{worker} not back within 2 min:\n{status.Output}\n--- up:\n{_stack.Output}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        status.StdOut.Split('\n').Single(l => l.StartsWith(worker + " ", StringComparison.Ordinal)).ShouldContain("healthy");
        int.Parse(File.ReadAllText(pidFile).Split(' ')[0], CultureInfo.InvariantCulture).ShouldNotBe(killed);
        _stack.Output.ShouldContain($"{worker} (pid {killed}) exited unexpectedly");
        _stack.Output.ShouldContain($"restarted {worker}");
    }

    private static readonly string[] ServicesOnThePath = ["api", "connector-webhooks", "inventory-pool", "views-sink", "sink-channel-sync"];

    private static string Head(string text) => string.Join('\n', text.Split('\n').Take(3));

    private static string Tail(string text, int lines) => string.Join('\n', text.Split('\n').TakeLast(lines));

    private static string[] Lines(string? table) => table is null ? ["(table missing)"] : table.Split('\n');

    private static string Show(Dictionary<string, long> positions) =>
        string.Join(", ", positions.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));

    private void Step(string what) => _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {what}");

    private static string OrderId(long channelOrderId) => $"woocommerce:{WooShop}:{channelOrderId}";

    /// <summary>The order's audit timeline as the REST API serves it (the same query as `ops/fulfillment audit`).</summary>
    private async Task<string> AuditAsync(long channelOrderId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_stack.ApiUrl, $"/orders/{Uri.EscapeDataString(OrderId(channelOrderId))}/audit"));
        request.Headers.Add("X-Api-Key", _apiKey);
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        return body;
    }

    /// <summary>Every base table of the views and durable schemas (bookkeeping columns left out, as replay --verify
    /// does), once two reads 6 s apart agree.</summary>
    private async Task<Dictionary<string, string>> SettledSnapshotAsync()
    {
        var deadline = DateTime.UtcNow + SettleTimeout;
        var last = await SnapshotAsync();
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(6));
            _stack.EnsureRunning();
            var next = await SnapshotAsync();
            if (next.Count == last.Count && next.All(kv => last.TryGetValue(kv.Key, out var v) && v == kv.Value))
            {
                return next;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"views still changing after {SettleTimeout.TotalMinutes} min");
            }

            last = next;
        }
    }

    private async Task<Dictionary<string, string>> SnapshotAsync()
    {
        await using var c = new NpgsqlConnection(_stack.PostgresConnectionString);
        await c.OpenAsync();
        var tables = new List<(string Schema, string Table, string[] Skip)>();
        await using (var list = new NpgsqlCommand("""
            SELECT t.table_schema, t.table_name,
                   coalesce(array_agg(c.column_name::text) FILTER (WHERE c.column_name = 'sunk_at' OR c.column_name LIKE 'src\_%'), '{}')
            FROM information_schema.tables t JOIN information_schema.columns c USING (table_schema, table_name)
            WHERE t.table_schema IN ('views', 'durable') AND t.table_type = 'BASE TABLE' AND t.table_name NOT IN ('sink_offsets', 'schema_migrations')
            GROUP BY 1, 2 ORDER BY 1, 2
            """, c))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add((reader.GetString(0), reader.GetString(1), reader.GetFieldValue<string[]>(2)));
            }
        }

        tables.ShouldNotBeEmpty();
        var snapshot = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (schema, table, skip) in tables)
        {
            await using var rows = new NpgsqlCommand($"SELECT (to_jsonb(t) - @skip)::text FROM {schema}.{table} t", c);
            rows.Parameters.AddWithValue("skip", skip);
            var lines = new List<string>();
            await using var reader = await rows.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                lines.Add(reader.GetString(0));
            }

            lines.Sort(StringComparer.Ordinal);
            snapshot[$"{schema}.{table}"] = string.Join('\n', lines);
        }

        return snapshot;
    }

    /// <summary>Next offset the views sink will read, summed over partitions, per topic.</summary>
    private async Task<Dictionary<string, long>> SinkPositionsAsync()
    {
        await using var c = new NpgsqlConnection(_stack.PostgresConnectionString);
        await c.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT topic, sum(next_offset)::bigint FROM views.sink_offsets GROUP BY topic", c);
        var positions = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                positions[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
        }

        return positions;
    }

    private async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition() && DateTime.UtcNow < deadline)
        {
            _stack.EnsureRunning();
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    private async Task WaitForAsync(string what, Func<NpgsqlConnection, Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + SettleTimeout;
        while (true)
        {
            _stack.EnsureRunning();
            await using (var c = new NpgsqlConnection(_stack.PostgresConnectionString))
            {
                await c.OpenAsync();
                if (await condition(c))
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {SettleTimeout.TotalMinutes} min");
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection c, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, c);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        try
        {
            return (T)(await command.ExecuteScalarAsync())!;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return default!; // the sink has not created its schema yet
        }
    }

    /// <summary>Sends an operator command as a client would: a timeout, a refused connection or a 5xx is retried with the
    /// same Idempotency-Key (the API's contract makes that safe: one event however often it is sent) for up to two
    /// minutes, each attempt logged. Anything else must be 202.</summary>
    private async Task CommandAsync(HttpMethod method, string path, string idempotencyKey, object body)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        for (var attempt = 1; ; attempt++)
        {
            string failure;
            try
            {
                using var request = new HttpRequestMessage(method, new Uri(_stack.ApiUrl, path)) { Content = JsonContent.Create(body) };
                request.Headers.Add("X-Api-Key", _apiKey);
                request.Headers.Add("Idempotency-Key", idempotencyKey);
                using var response = await _http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                if ((int)response.StatusCode < 500)
                {
                    response.StatusCode.ShouldBe(HttpStatusCode.Accepted, $"{method} {path}: {text}");
                    return;
                }

                failure = $"{(int)response.StatusCode} {text}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                failure = $"{e.GetType().Name}: {e.Message}";
            }

            Step($"{method} {path} attempt {attempt} failed: {failure}");
            _stack.EnsureRunning();
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{method} {path}: no 202 within 2 min ({attempt} attempts; last: {failure})");
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }

    private async Task<HttpStatusCode> SendWooOrderAsync(long id, string sku, int quantity)
    {
        var body = Encoding.UTF8.GetBytes($$"""
            {"id":{{id}},"parent_id":0,"status":"processing","currency":"USD","version":"9.4.2","prices_include_tax":false,
             "date_created":"2026-11-20T09:15:02","date_modified":"2026-11-20T09:15:04","discount_total":"0.00","discount_tax":"0.00",
             "shipping_total":"10.00","shipping_tax":"0.00","cart_tax":"0.00","total":"39.00","total_tax":"0.00","customer_id":26,
             "billing":{"first_name":"Ada","last_name":"Byron","address_1":"1 Main St","city":"Boston","state":"MA","postcode":"02101","country":"US","email":"ada@example.com"},
             "shipping":{"first_name":"Ada","last_name":"Byron","address_1":"1 Main St","city":"Boston","state":"MA","postcode":"02101","country":"US"},
             "payment_method":"bacs","created_via":"checkout","customer_note":"","date_paid":"2026-11-20T09:15:03","number":"{{id}}","meta_data":[],
             "line_items":[{"id":315,"name":"Item","product_id":93,"variation_id":0,"quantity":{{quantity}},"subtotal":"29.00","subtotal_tax":"0.00",
               "total":"29.00","total_tax":"0.00","taxes":[],"meta_data":[],"sku":"{{sku}}","price":14.5}],
             "shipping_lines":[],"fee_lines":[],"coupon_lines":[],"refunds":[],
             "date_created_gmt":"2026-11-20T12:15:02","date_modified_gmt":"2026-11-20T12:15:04","date_paid_gmt":"2026-11-20T12:15:03"}
            """);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_stack.WebhookUrl, $"/webhooks/woocommerce/{WooShop}"))
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-WC-Webhook-Source", "https://woo.example/");
        request.Headers.Add("X-WC-Webhook-Topic", "order.created");
        request.Headers.Add("X-WC-Webhook-Resource", "order");
        request.Headers.Add("X-WC-Webhook-Event", "created");
        request.Headers.Add("X-WC-Webhook-ID", "12");
        request.Headers.Add("X-WC-Webhook-Delivery-ID", $"restart-{id}");
        request.Headers.Add("X-WC-Webhook-Signature", Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_wooSecret), body)));
        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Calls that change something on the channel (everything but GET), in arrival order.</summary>
    private List<(string Method, string Path, string Body)> Mutations() =>
        [.. _woo.LogEntries.OrderBy(e => e.RequestMessage.DateTime)
            .Where(e => e.RequestMessage.Method != "GET")
            .Select(e => (e.RequestMessage.Method, e.RequestMessage.Path, e.RequestMessage.Body ?? ""))];

    /// <summary>The WooCommerce REST v3 calls the channel-sync worker makes: order update, notes, product stock.</summary>
    private static void StubWooCommerce(WireMockServer woo)
    {
        woo.Given(Request.Create().WithPath(new WireMock.Matchers.RegexMatcher(@"^/wp-json/wc/v3/orders/\d+$")).UsingPut())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""{"id":1,"status":"completed"}"""));
        woo.Given(Request.Create().WithPath(new WireMock.Matchers.RegexMatcher(@"^/wp-json/wc/v3/orders/\d+/notes$")).UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("[]"));
        woo.Given(Request.Create().WithPath(new WireMock.Matchers.RegexMatcher(@"^/wp-json/wc/v3/orders/\d+/notes$")).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/json").WithBody("""{"id":1}"""));
        woo.Given(Request.Create().WithPath("/wp-json/wc/v3/products").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""[{"id":93,"parent_id":0,"sku":"any"}]"""));
        woo.Given(Request.Create().WithPath(new WireMock.Matchers.RegexMatcher(@"^/wp-json/wc/v3/products/\d+$")).UsingPut())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""{"id":93}"""));
    }
}

/// <summary>Tests that run a whole embedded stack run alone, after the parallel ones: two start-ups competing with each
/// other (or with the dashboard type-check and promtool) for two cores made timeouts the likeliest failure.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EmbeddedStackCollection
{
    public const string Name = "Embedded stack";
}
