using System.Text;
using System.Text.RegularExpressions;
using Fulfillment.Ops.Tests.Support;

namespace Fulfillment.Ops.Tests.Monitoring;

/// <summary>A metric the source declares with prometheus-net's <c>Metrics.Create*</c>.</summary>
internal sealed record DeclaredMetric(string Name, string Type, IReadOnlyList<string> Labels, string File);

/// <summary>
/// The metrics the hub's code declares, read from the source tree (every <c>Metrics.CreateCounter/Gauge/Histogram/Summary</c>
/// call with a literal name), plus the few series that exist without a declaration: Prometheus' own <c>up</c> and the
/// process metrics prometheus-net exports by default.
/// </summary>
internal static partial class DeclaredMetrics
{
    private static readonly string[] SourceRoots = ["connectors", "processors", "sinks", "ops", "schemas"];

    // Series no Create* call declares. up: Prometheus adds it per target. process_*: prometheus-net's default process
    // collector, which ops/Fulfillment.Hosting keeps (it suppresses only event counters and meters; a test checks that).
    public static readonly IReadOnlyList<DeclaredMetric> Implicit =
    [
        new("up", "gauge", [], "(Prometheus, per scrape target)"),
        new("process_cpu_seconds_total", "counter", [], "(prometheus-net default process metrics)"),
        new("process_working_set_bytes", "gauge", [], "(prometheus-net default process metrics)"),
    ];

    /// <summary>Labels every scraped series has (target labels).</summary>
    public static readonly IReadOnlyList<string> TargetLabels = ["job", "instance"];

    public static IReadOnlyList<DeclaredMetric> FromSourceTree() =>
        SourceRoots.Select(r => Repo.Path(r)).Where(Directory.Exists)
            .SelectMany(r => Directory.EnumerateFiles(r, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => Parse(File.ReadAllText(f), Path.GetRelativePath(Repo.Root, f)))
            .Concat(Implicit)
            .ToList();

    /// <summary>The Create* calls in one C# source text.</summary>
    public static IEnumerable<DeclaredMetric> Parse(string source, string file)
    {
        foreach (Match m in CreateCall().Matches(source))
        {
            var args = Arguments(source, m.Index + m.Length);
            if (args.Count == 0 || !IsStringLiteral(args[0]))
            {
                continue; // a name built at run time cannot be checked here; such a metric cannot be used by a dashboard either
            }

            var labels = new List<string>();
            foreach (var arg in args.Skip(2))
            {
                if (IsStringLiteral(arg))
                {
                    labels.Add(Unquote(arg));
                }
                else if (LabelNames().Match(arg) is { Success: true } ln)
                {
                    labels.AddRange(Literal().Matches(ln.Groups[1].Value).Select(l => Unquote(l.Value)));
                }
            }

            yield return new DeclaredMetric(Unquote(args[0]), m.Groups[1].Value.ToLowerInvariant(), labels, file);
        }
    }

    /// <summary>The top-level arguments of the call whose '(' ends just before <paramref name="start"/>.</summary>
    private static List<string> Arguments(string s, int start)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        var depth = 0;
        for (var i = start; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '"')
            {
                var end = i + 1;
                while (end < s.Length && s[end] != '"')
                {
                    end += s[end] == '\\' ? 2 : 1;
                }

                current.Append(s, i, Math.Min(end + 1, s.Length) - i);
                i = end;
                continue;
            }

            if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if (c is ')' or ']' or '}')
            {
                if (depth == 0)
                {
                    args.Add(current.ToString().Trim());
                    return args;
                }

                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                args.Add(current.ToString().Trim());
                current.Clear();
                continue;
            }

            current.Append(c);
        }

        return args;
    }

    private static bool IsStringLiteral(string arg) => arg.Length >= 2 && arg[0] == '"' && arg[^1] == '"';

    private static string Unquote(string literal) => Regex.Unescape(literal[1..^1]);

    [GeneratedRegex(@"Metrics\s*\.\s*Create(Counter|Gauge|Histogram|Summary)\s*\(")]
    private static partial Regex CreateCall();

    [GeneratedRegex(@"LabelNames\s*=\s*(?:new\s*(?:string)?\s*\[\s*\]\s*)?[\[{]([^\]}]*)[\]}]")]
    private static partial Regex LabelNames();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Literal();
}
