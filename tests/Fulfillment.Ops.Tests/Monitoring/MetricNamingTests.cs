using System.Text.RegularExpressions;
using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>
/// One naming scheme for every worker's metrics (issue 6, ops/grafana/README.md "Naming"), checked on what the source
/// declares, and the README's inventory kept equal to it: a metric added, renamed or dropped fails here until both follow.
/// </summary>
public sealed partial class MetricNamingTests
{
    private static readonly Lazy<IReadOnlyList<DeclaredMetric>> Declared = new(() =>
        DeclaredMetrics.FromSourceTree().Except(DeclaredMetrics.Implicit).ToList());

    /// <summary>What a name or its labels break of the scheme (empty when nothing).</summary>
    internal static IEnumerable<string> Problems(DeclaredMetric m)
    {
        if (!m.Name.StartsWith("fulfillment_", StringComparison.Ordinal))
        {
            yield return "has no fulfillment_<area>_ prefix";
        }

        if (!SnakeCase().IsMatch(m.Name))
        {
            yield return "is not lower snake case";
        }

        if (m.Type == "counter" != m.Name.EndsWith("_total", StringComparison.Ordinal))
        {
            yield return m.Type == "counter" ? "is a counter not ending in _total" : "ends in _total but is not a counter";
        }

        if (m.Name.Contains("_latency", StringComparison.Ordinal) || m.Name.Contains("_time_", StringComparison.Ordinal))
        {
            yield return "measures a duration: name it *_duration_seconds";
        }

        if (m.Type == "histogram" && !Units().IsMatch(m.Name))
        {
            yield return "is a histogram without a unit suffix (_seconds, _bytes, or the thing counted)";
        }

        foreach (var label in m.Labels)
        {
            if (!SnakeCase().IsMatch(label))
            {
                yield return $"label '{label}' is not lower snake case";
            }

            if (label == "source")
            {
                yield return "label 'source': the sales channel is labelled 'channel' everywhere";
            }
        }
    }

    [Fact]
    public void DeclaredMetrics_EveryName_FollowsTheNamingScheme()
    {
        Declared.Value.Count.ShouldBeGreaterThan(30);

        var problems = Declared.Value.SelectMany(m => Problems(m).Select(p => $"{m.Name} ({m.File}) {p}")).ToList();

        problems.ShouldBeEmpty(string.Join('\n', problems));
    }

    [Theory]
    [InlineData("schema_registry_schemas_registered_total", "counter", "", "prefix")]
    [InlineData("fulfillment_runtime_commit_latency_seconds", "histogram", "", "duration")]
    [InlineData("fulfillment_connector_deliveries_total", "counter", "source", "channel")]
    [InlineData("fulfillment_views_sink_records", "counter", "", "_total")]
    [InlineData("fulfillment_views_sink_lag_total", "gauge", "", "_total")]
    public void Problems_NameOffTheScheme_IsReported(string name, string type, string label, string expected)
    {
        var metric = new DeclaredMetric(name, type, label.Length > 0 ? [label] : [], "x.cs");

        Problems(metric).ShouldContain(p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void GrafanaReadme_Inventory_ListsExactlyTheDeclaredMetricsWithTheirLabels()
    {
        var readme = File.ReadAllText(Repo.Path("ops", "grafana", "README.md"));
        var listed = InventoryRow().Matches(readme).ToDictionary(
            r => r.Groups["name"].Value,
            r => r.Groups["labels"].Value.Trim() is "—" or "" ? "" : string.Join(',', r.Groups["labels"].Value.Split(',', StringSplitOptions.TrimEntries)));
        var declared = Declared.Value.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => string.Join(',', g.First().Labels));

        declared.Keys.Except(listed.Keys).ShouldBeEmpty("declared in the source but missing from ops/grafana/README.md's inventory");
        listed.Keys.Except(declared.Keys).ShouldBeEmpty("in ops/grafana/README.md's inventory but declared nowhere");
        var wrongLabels = declared.Where(d => listed[d.Key] != d.Value).Select(d => $"{d.Key}: README '{listed[d.Key]}', code '{d.Value}'").ToList();
        wrongLabels.ShouldBeEmpty(string.Join('\n', wrongLabels));
    }

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex SnakeCase();

    [GeneratedRegex("_(seconds|bytes|rows|records|deliveries|units)$")]
    private static partial Regex Units();

    // | `name` | type | labels | declared in |
    [GeneratedRegex(@"^\|\s*`(?<name>[a-z_0-9]+)`\s*\|\s*[a-z ()0-9]+\|\s*(?<labels>[^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex InventoryRow();
}
