using Fulfillment.Ops.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>ops/prometheus/rules: promtool accepts the rules and their unit tests pass, and every alert is unit-tested
/// both firing and not firing.</summary>
public sealed class AlertRuleTests
{
    private static string Promtool() =>
        Shell.Which("promtool") ?? throw new InvalidOperationException(
            "promtool not found: `ops/fulfillment test` installs Debian's prometheus package (or: apt-get install prometheus)");

    [Fact]
    public void RuleFiles_PromtoolCheckRules_Succeeds()
    {
        var r = Shell.Run(Promtool(), ["check", "rules", .. MonitoringFiles.RuleFiles]);

        r.ExitCode.ShouldBe(0, r.Output);
        MonitoringFiles.AlertNames().ShouldNotBeEmpty();
    }

    [Fact]
    public void RuleUnitTests_PromtoolTestRules_Pass()
    {
        var tests = MonitoringFiles.RuleTestFiles;
        tests.ShouldNotBeEmpty();

        var r = Shell.Run(Promtool(), ["test", "rules", .. tests], timeout: TimeSpan.FromMinutes(2));

        r.ExitCode.ShouldBe(0, r.Output);
        r.Output.ShouldContain("SUCCESS");
    }

    [Fact]
    public void EveryAlert_HasUnitTestsFiringAndNotFiring()
    {
        var firing = new HashSet<string>(StringComparer.Ordinal);
        var quiet = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in MonitoringFiles.RuleTestFiles)
        {
            foreach (var test in ((YamlSequenceNode)MonitoringFiles.Load(file).Children[new YamlScalarNode("tests")]).Children.OfType<YamlMappingNode>())
            {
                if (!test.Children.TryGetValue(new YamlScalarNode("alert_rule_test"), out var cases))
                {
                    continue;
                }

                foreach (var c in ((YamlSequenceNode)cases).Children.OfType<YamlMappingNode>())
                {
                    var name = MonitoringFiles.Scalar(c, "alertname") ?? "";
                    var expected = c.Children.TryGetValue(new YamlScalarNode("exp_alerts"), out var e) && e is YamlSequenceNode list ? list.Children.Count : 0;
                    (expected > 0 ? firing : quiet).Add(name);
                }
            }
        }

        var alerts = MonitoringFiles.AlertNames();
        alerts.Where(a => !firing.Contains(a)).ShouldBeEmpty("alerts without a unit test in which they fire");
        alerts.Where(a => !quiet.Contains(a)).ShouldBeEmpty("alerts without a unit test in which they stay quiet");
    }

    [Fact]
    public void EveryAlert_HasSeverityAndSummary()
    {
        foreach (var file in MonitoringFiles.RuleFiles)
        {
            var groups = MonitoringFiles.Load(file).Children[new YamlScalarNode("groups")] as YamlSequenceNode ?? [];
            foreach (var rule in groups.Children.OfType<YamlMappingNode>()
                .SelectMany(g => ((YamlSequenceNode)g.Children[new YamlScalarNode("rules")]).Children.OfType<YamlMappingNode>())
                .Where(r => MonitoringFiles.Scalar(r, "alert") is not null))
            {
                var name = MonitoringFiles.Scalar(rule, "alert");
                var labels = (YamlMappingNode)rule.Children[new YamlScalarNode("labels")];
                MonitoringFiles.Scalar(labels, "severity").ShouldBeOneOf(["page", "ticket"], name);
                var annotations = (YamlMappingNode)rule.Children[new YamlScalarNode("annotations")];
                MonitoringFiles.Scalar(annotations, "summary").ShouldNotBeNullOrWhiteSpace(name);
                MonitoringFiles.Scalar(annotations, "description").ShouldNotBeNullOrWhiteSpace(name);
            }
        }
    }
}
