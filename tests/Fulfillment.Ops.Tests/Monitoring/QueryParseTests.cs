using System.Net;
using System.Text.RegularExpressions;
using Fulfillment.Ops.Tests.Support;
using Fulfillment.Testing;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>Every dashboard panel query and every alert expression is accepted by a real Prometheus (the Debian package
/// `ops/fulfillment up` runs): HTTP 200 from /api/v1/query, where a bad expression gets 400 bad_data.</summary>
public sealed partial class QueryParseTests(QueryParseTests.LocalPrometheus prometheus) : IClassFixture<QueryParseTests.LocalPrometheus>
{
    [Fact]
    public async Task DashboardQueries_LocalPrometheus_AcceptsEvery()
    {
        var queries = MonitoringFiles.PanelQueries();
        queries.Count.ShouldBeGreaterThan(0);

        var failures = await prometheus.RejectedAsync(queries.Select(q => (q.Where, q.Expr)));

        failures.ShouldBeEmpty(string.Join('\n', failures));
    }

    [Fact]
    public async Task AlertExpressions_LocalPrometheus_AcceptsEvery()
    {
        var rules = MonitoringFiles.Rules();
        rules.Count.ShouldBeGreaterThan(0);

        var failures = await prometheus.RejectedAsync(rules.Select(r => ($"{r.File} {r.Name}", r.Expr)));

        failures.ShouldBeEmpty(string.Join('\n', failures));
    }

    [Theory]
    [InlineData("sum(rate(fulfillment_runtime_records_in_total[5m])")]
    [InlineData("histogram_quantile(0.99, sum by (le) rate(x_bucket[5m]))")]
    [InlineData("rate(fulfillment_runtime_records_in_total[$__interval_typo])")]
    public async Task BrokenExpression_LocalPrometheus_Rejects(string expr)
    {
        var failures = await prometheus.RejectedAsync([("broken", expr)]);

        failures.Count.ShouldBe(1);
        failures[0].ShouldContain("400");
    }

    /// <summary>Grafana's built-in interval variables, replaced as Grafana would before a query reaches Prometheus.</summary>
    internal static string ExpandGrafanaVariables(string expr) => GrafanaInterval().Replace(expr, "5m");

    [GeneratedRegex(@"\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}")]
    private static partial Regex GrafanaInterval();

    /// <summary>A Prometheus on a free loopback port with an empty config and a throwaway data dir; stopped by PID.</summary>
    public sealed class LocalPrometheus : IAsyncLifetime
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), $"monitoring-prometheus-{Guid.NewGuid():N}");
        private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
        private ProcessRunner? _process;

        public Uri BaseUri { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var prometheus = Shell.Which("prometheus") ?? throw new InvalidOperationException(
                "prometheus not found: `ops/fulfillment test` installs Debian's prometheus package (or: apt-get install prometheus)");
            Directory.CreateDirectory(_dir);
            var config = Path.Combine(_dir, "prometheus.yml");
            await File.WriteAllTextAsync(config, "global:\n  evaluation_interval: 1m\n");
            var port = FreePorts.ConsecutiveRange(1);
            BaseUri = new Uri($"http://127.0.0.1:{port}/");
            _process = ProcessRunner.Start(prometheus, [
                $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_dir, "data")}",
                $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
            ]);

            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    using var ready = await _http.GetAsync(new Uri(BaseUri, "-/ready"));
                    if (ready.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }

                if (_process.HasExited || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"prometheus on port {port} did not become ready (exited: {_process.HasExited}):\n{_process.Output}");
                }

                await Task.Delay(100);
            }
        }

        /// <summary>"where: status body" for each expression Prometheus does not answer with 200.</summary>
        public async Task<List<string>> RejectedAsync(IEnumerable<(string Where, string Expr)> queries)
        {
            var failures = new List<string>();
            foreach (var (where, expr) in queries)
            {
                using var body = new FormUrlEncodedContent([new("query", ExpandGrafanaVariables(expr))]);
                using var response = await _http.PostAsync(new Uri(BaseUri, "api/v1/query"), body);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add($"{where}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()} for `{expr}`");
                }
            }

            return failures;
        }

        public async Task DisposeAsync()
        {
            if (_process is not null)
            {
                _process.Terminate();
                try
                {
                    await _process.WaitForExitAsync(TimeSpan.FromSeconds(10));
                }
                catch (TimeoutException)
                {
                    // Dispose below SIGKILLs it.
                }

                _process.Dispose();
            }

            _http.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // a leftover temp dir is harmless
            }
        }
    }
}
