using System.Text.Json.Nodes;
using Fulfillment.Ops.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>One PromQL expression from a dashboard panel or an alert rule, with where it came from (for failure messages).</summary>
internal sealed record MonitoringQuery(string Where, string Expr, string? Legend, IReadOnlyList<string> TemplateLabels);

/// <summary>A rule of ops/prometheus/rules: alert or recording rule, its expression and the labels its annotations template.</summary>
internal sealed record RuleInfo(string File, string Name, bool IsAlert, string Expr, IReadOnlyList<string> AnnotationLabels);

/// <summary>A Grafana dashboard file of ops/grafana/dashboards.</summary>
internal sealed record DashboardFile(string Name, string Path, JsonObject Json)
{
    /// <summary>Every panel, rows' nested panels included.</summary>
    public IEnumerable<JsonObject> Panels => Flatten(Json["panels"]?.AsArray());

    private static IEnumerable<JsonObject> Flatten(JsonArray? panels)
    {
        foreach (var p in panels?.OfType<JsonObject>() ?? [])
        {
            yield return p;
            foreach (var nested in Flatten(p["panels"]?.AsArray()))
            {
                yield return nested;
            }
        }
    }
}

/// <summary>The monitoring artifacts under test: dashboards (ops/grafana/dashboards) and alert rules (ops/prometheus/rules).</summary>
internal static partial class MonitoringFiles
{
    public static string DashboardsDir => Repo.Path("ops", "grafana", "dashboards");

    public static string RulesDir => Repo.Path("ops", "prometheus", "rules");

    public static IReadOnlyList<string> RuleFiles => Directory.GetFiles(RulesDir, "*.yml").Order(StringComparer.Ordinal).ToList();

    public static IReadOnlyList<string> RuleTestFiles =>
        Directory.GetFiles(System.IO.Path.Combine(RulesDir, "tests"), "*.test.yml").Order(StringComparer.Ordinal).ToList();

    public static IReadOnlyList<DashboardFile> Dashboards() =>
        Directory.GetFiles(DashboardsDir, "*.json").Order(StringComparer.Ordinal)
            .Select(f => new DashboardFile(System.IO.Path.GetFileNameWithoutExtension(f), f,
                JsonNode.Parse(File.ReadAllText(f))?.AsObject() ?? throw new InvalidOperationException($"{f} is empty")))
            .ToList();

    /// <summary>Every panel query of every dashboard.</summary>
    public static IReadOnlyList<MonitoringQuery> PanelQueries() =>
        Dashboards().SelectMany(d => d.Panels.SelectMany(p => (p["targets"]?.AsArray() ?? []).OfType<JsonObject>().Select(t =>
        {
            var legend = (string?)t["legendFormat"];
            return new MonitoringQuery(
                $"{d.Name}.json panel {(int?)p["id"]} \"{(string?)p["title"]}\" target {(string?)t["refId"]}",
                (string?)t["expr"] ?? throw new InvalidOperationException($"{d.Name}.json panel {(int?)p["id"]}: a target without expr"),
                legend,
                legend is null ? [] : LegendLabel().Matches(legend).Select(m => m.Groups[1].Value).ToList());
        }))).ToList();

    /// <summary>Every alerting (and recording) rule: name, expression, and the labels its annotations template.</summary>
    public static IReadOnlyList<RuleInfo> Rules()
    {
        var rules = new List<RuleInfo>();
        foreach (var file in RuleFiles)
        {
            var root = Load(file);
            if (root.Children.TryGetValue(new YamlScalarNode("groups"), out var groups) && groups is YamlSequenceNode groupList)
            {
                foreach (var group in groupList.Children.OfType<YamlMappingNode>())
                {
                    foreach (var rule in ((YamlSequenceNode)group.Children[new YamlScalarNode("rules")]).Children.OfType<YamlMappingNode>())
                    {
                        var name = Scalar(rule, "alert") ?? Scalar(rule, "record") ?? "?";
                        var annotations = rule.Children.TryGetValue(new YamlScalarNode("annotations"), out var a) && a is YamlMappingNode map
                            ? map.Children.Values.OfType<YamlScalarNode>().SelectMany(v => AnnotationLabel().Matches(v.Value ?? "").Select(m => m.Groups[1].Value)).Distinct().ToList()
                            : [];
                        rules.Add(new RuleInfo(System.IO.Path.GetFileName(file), name, Scalar(rule, "alert") is not null, Scalar(rule, "expr") ?? throw new InvalidOperationException($"{file}: {name} has no expr"), annotations));
                    }
                }
            }
        }

        return rules;
    }

    /// <summary>Alert names of the rule files.</summary>
    public static IReadOnlyList<string> AlertNames() =>
        Rules().Where(r => r.IsAlert).Select(r => r.Name).ToList();

    public static YamlMappingNode Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(file);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    public static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    [System.Text.RegularExpressions.GeneratedRegex(@"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")]
    private static partial System.Text.RegularExpressions.Regex LegendLabel();

    [System.Text.RegularExpressions.GeneratedRegex(@"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")]
    private static partial System.Text.RegularExpressions.Regex AnnotationLabel();
}
