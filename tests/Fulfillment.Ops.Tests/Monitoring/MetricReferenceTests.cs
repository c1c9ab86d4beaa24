using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>
/// Dashboards and alerts stay honest: every metric they query is declared by the code (grep of the source tree), and every
/// label they filter, group or template on is one of that metric's labels (or a target label). A renamed metric or
/// label in a worker fails here until the dashboards and rules follow.
/// </summary>
public sealed class MetricReferenceTests
{
    private static readonly Lazy<IReadOnlyList<DeclaredMetric>> Declared = new(DeclaredMetrics.FromSourceTree);

    [Fact]
    public void DeclaredMetrics_SourceTree_FindsWorkerMetricsWithTheirLabels()
    {
        var byName = Declared.Value.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.First());

        byName["fulfillment_runtime_consumer_lag_records"].Labels.ShouldBe(["application", "topic", "partition"]);
        byName["fulfillment_runtime_event_age_at_output_seconds"].Type.ShouldBe("histogram");
        byName["fulfillment_runtime_event_age_at_output_seconds"].Labels.ShouldBe(["application"]);
        byName["fulfillment_connector_publish_backlog_deliveries"].Labels.ShouldBeEmpty();
        byName.Keys.Count(k => k.StartsWith("fulfillment_", StringComparison.Ordinal)).ShouldBeGreaterThan(20);
    }

    [Fact]
    public void DeclaredMetrics_ParseCreateCalls_ReadsPositionalAndConfigurationLabels()
    {
        const string source = """
            static readonly Counter A = Metrics.CreateCounter("a_total", "Help, with a comma (and parens).", "x", "y");
            static readonly Histogram B = Metrics.CreateHistogram(
                "b_seconds", "Help.",
                new HistogramConfiguration { LabelNames = ["z"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 4) });
            static readonly Gauge C = Metrics.CreateGauge("c_bytes", "Help.", new GaugeConfiguration { LabelNames = new[] { "p", "q" } });
            static readonly Gauge D = Metrics.CreateGauge(Name, "not a literal name");
            """;

        var parsed = DeclaredMetrics.Parse(source, "x.cs").ToList();

        parsed.Select(m => (m.Name, m.Type, string.Join(',', m.Labels))).ShouldBe([
            ("a_total", "counter", "x,y"), ("b_seconds", "histogram", "z"), ("c_bytes", "gauge", "p,q"),
        ]);
    }

    [Fact]
    public void Dashboards_EveryQuery_UsesOnlyDeclaredMetricsAndLabels()
    {
        var queries = MonitoringFiles.PanelQueries();
        queries.Count.ShouldBeGreaterThan(0);

        var problems = queries.SelectMany(q => Problems(q.Where, q.Expr, q.TemplateLabels, Declared.Value)).ToList();

        problems.ShouldBeEmpty(string.Join('\n', problems));
    }

    [Fact]
    public void AlertRules_EveryExpression_UsesOnlyDeclaredMetricsAndLabels()
    {
        var rules = MonitoringFiles.Rules();
        rules.Count.ShouldBeGreaterThan(0);

        var problems = rules.SelectMany(r => Problems($"{r.File} {r.Name}", r.Expr, r.AnnotationLabels, Declared.Value)).ToList();

        problems.ShouldBeEmpty(string.Join('\n', problems));
    }

    [Theory]
    [InlineData("sum(rate(fulfillment_no_such_metric_total[5m]))", "fulfillment_no_such_metric_total")]
    [InlineData("sum by (shop) (rate(fulfillment_connector_deliveries_total[5m]))", "shop")]
    [InlineData("rate(fulfillment_connector_deliveries_total{shop=\"a\"}[5m])", "shop")]
    [InlineData("histogram_quantile(0.99, sum by (le) (rate(fulfillment_connector_deliveries_total_bucket[5m])))", "fulfillment_connector_deliveries_total_bucket")]
    [InlineData("rate({__name__=~\"fulfillment_.*\"}[5m])", "without a metric name")]
    public void Check_UndeclaredMetricOrLabel_IsReported(string expr, string expected)
    {
        var problems = Problems("test", expr, [], Declared.Value).ToList();

        problems.ShouldContain(p => p.Contains(expected, StringComparison.Ordinal), $"no problem mentioning {expected} in: {string.Join('\n', problems)}");
    }

    [Fact]
    public void Check_LegendTemplateLabelNotInQuery_IsReported()
    {
        var problems = Problems("test", "sum by (source) (rate(fulfillment_connector_deliveries_total[5m]))", ["channel"], Declared.Value).ToList();

        problems.ShouldContain(p => p.Contains("channel", StringComparison.Ordinal));
    }

    [Fact]
    public void Hosting_KeepsProcessMetrics_DashboardsMayUseThem()
    {
        var hosting = File.ReadAllText(Repo.Path("ops", "Fulfillment.Hosting", "HostingExtensions.cs"));

        hosting.ShouldNotContain("SuppressProcessMetrics = true");
        hosting.ShouldNotContain("SuppressDebugMetrics = true");
    }

    /// <summary>What is wrong with one expression's references, as readable lines (empty when all is declared).</summary>
    internal static IEnumerable<string> Problems(string where, string expr, IReadOnlyList<string> templateLabels, IReadOnlyList<DeclaredMetric> declared)
    {
        var byName = declared.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.First());
        var (selectors, grouping) = PromQlReferences.Find(expr);
        var known = new HashSet<string>(DeclaredMetrics.TargetLabels, StringComparer.Ordinal);
        foreach (var selector in selectors)
        {
            if (selector.Metric.StartsWith('{'))
            {
                yield return $"{where}: a selector without a metric name ({selector.Metric}) in `{expr}`; name the metric so it can be checked";
                continue;
            }

            var allowed = AllowedLabels(selector.Metric, byName);
            if (allowed is null)
            {
                yield return $"{where}: metric {selector.Metric} is not declared in the source tree (Metrics.Create* in connectors/, processors/, sinks/, ops/)";
                continue;
            }

            known.UnionWith(allowed);
            foreach (var label in selector.Labels.Where(l => !allowed.Contains(l)))
            {
                yield return $"{where}: {selector.Metric} has no label {label} (it has {string.Join(", ", allowed)})";
            }
        }

        foreach (var label in grouping.Concat(templateLabels).Distinct().Where(l => !known.Contains(l)))
        {
            yield return $"{where}: label {label} is not a label of any metric in `{expr}` (known: {string.Join(", ", known)})";
        }
    }

    /// <summary>The labels a series of this name can carry, or null when no such series is declared.</summary>
    private static HashSet<string>? AllowedLabels(string metric, Dictionary<string, DeclaredMetric> byName)
    {
        var labels = new HashSet<string>(DeclaredMetrics.TargetLabels, StringComparer.Ordinal) { "__name__" };
        if (byName.TryGetValue(metric, out var exact) && exact.Type is not ("histogram" or "summary"))
        {
            labels.UnionWith(exact.Labels);
            return labels;
        }

        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (metric.EndsWith(suffix, StringComparison.Ordinal) && byName.TryGetValue(metric[..^suffix.Length], out var m)
                && (m.Type == "histogram" || (m.Type == "summary" && suffix != "_bucket")))
            {
                labels.UnionWith(m.Labels);
                if (suffix == "_bucket")
                {
                    labels.Add("le");
                }

                return labels;
            }
        }

        if (exact is { Type: "summary" })
        {
            labels.UnionWith(exact.Labels);
            labels.Add("quantile");
            return labels;
        }

        return null; // a histogram is only ever queried through _bucket/_sum/_count
    }
}
