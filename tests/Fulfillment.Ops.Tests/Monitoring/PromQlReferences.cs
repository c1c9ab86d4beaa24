using System.Text.RegularExpressions;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>A metric selector in an expression and the label names its matchers use.</summary>
internal sealed record MetricSelector(string Metric, IReadOnlyList<string> Labels);

/// <summary>
/// The metric names and label names a PromQL expression refers to. Not a parser: whether an expression is valid PromQL
/// is Prometheus' call (QueryParseTests); this only finds names, which is enough to hold dashboards and alerts to the
/// metrics the workers declare.
/// </summary>
internal static partial class PromQlReferences
{
    // Identifiers that are neither metrics nor functions (functions are recognised by the '(' that follows them).
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "Inf", "NaN", "inf", "nan",
    };

    public static (IReadOnlyList<MetricSelector> Selectors, IReadOnlyList<string> GroupingLabels) Find(string expr)
    {
        var text = StringLiteral().Replace(expr, "\"\"");
        text = RangeOrSubquery().Replace(text, " ");

        var grouping = new List<string>();
        text = Grouping().Replace(text, m =>
        {
            grouping.AddRange(m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            return " ";
        });

        var selectors = new List<MetricSelector>();
        text = Braces().Replace(text, m =>
        {
            var labels = Matcher().Matches(m.Groups[2].Value).Select(x => x.Groups[1].Value).ToList();
            var name = m.Groups[1].Value;
            if (name.Length == 0)
            {
                name = labels.Contains("__name__") ? "{__name__}" : "{}";
            }

            selectors.Add(new MetricSelector(name, labels));
            return " ";
        });

        foreach (Match m in Identifier().Matches(text))
        {
            var name = m.Groups[1].Value;
            if (m.Groups[2].Success || Keywords.Contains(name))
            {
                continue; // a function or aggregation call, or a keyword
            }

            selectors.Add(new MetricSelector(name, []));
        }

        return (selectors, grouping);
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")]
    private static partial Regex Braces();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")]
    private static partial Regex Matcher();

    // An identifier not preceded by a letter, digit or '.', so number literals (0.99, 1e3) and durations (5m) are not names.
    [GeneratedRegex(@"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")]
    private static partial Regex Identifier();
}
