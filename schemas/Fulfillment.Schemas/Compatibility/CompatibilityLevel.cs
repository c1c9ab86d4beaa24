using System.Diagnostics.CodeAnalysis;
using Avro;

namespace Fulfillment.Schemas.Compatibility;

/// <summary>Confluent Schema Registry compatibility levels.</summary>
public enum CompatibilityLevel
{
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

/// <summary>Applies a <see cref="CompatibilityLevel"/> to a candidate schema and a subject's earlier versions.</summary>
public static class SchemaCompatibility
{
    private static readonly (CompatibilityLevel Level, string Name)[] Names =
    [
        (CompatibilityLevel.None, "NONE"),
        (CompatibilityLevel.Backward, "BACKWARD"),
        (CompatibilityLevel.BackwardTransitive, "BACKWARD_TRANSITIVE"),
        (CompatibilityLevel.Forward, "FORWARD"),
        (CompatibilityLevel.ForwardTransitive, "FORWARD_TRANSITIVE"),
        (CompatibilityLevel.Full, "FULL"),
        (CompatibilityLevel.FullTransitive, "FULL_TRANSITIVE"),
    ];

    /// <summary>The Confluent wire name, e.g. <c>BACKWARD_TRANSITIVE</c>.</summary>
    public static string ToConfluentName(this CompatibilityLevel level) =>
        Array.Find(Names, n => n.Level == level).Name ?? throw new ArgumentOutOfRangeException(nameof(level));

    /// <summary>Parses a Confluent level name, case-insensitively.</summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out CompatibilityLevel? level)
    {
        foreach (var (l, n) in Names)
        {
            if (string.Equals(n, name?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                level = l;
                return true;
            }
        }

        level = null;
        return false;
    }

    /// <summary>
    /// Reasons <paramref name="candidate"/> may not follow <paramref name="previousOldestFirst"/> under <paramref name="level"/>;
    /// empty when it may. Non-transitive levels compare with the latest version only, as Confluent does.
    /// </summary>
    public static IReadOnlyList<string> FindIncompatibilities(
        CompatibilityLevel level, Schema candidate, IReadOnlyList<Schema> previousOldestFirst)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(previousOldestFirst);
        if (level == CompatibilityLevel.None || previousOldestFirst.Count == 0)
        {
            return [];
        }

        var transitive = level is CompatibilityLevel.BackwardTransitive or CompatibilityLevel.ForwardTransitive or CompatibilityLevel.FullTransitive;
        var backward = level is CompatibilityLevel.Backward or CompatibilityLevel.BackwardTransitive or CompatibilityLevel.Full or CompatibilityLevel.FullTransitive;
        var forward = level is CompatibilityLevel.Forward or CompatibilityLevel.ForwardTransitive or CompatibilityLevel.Full or CompatibilityLevel.FullTransitive;

        var problems = new List<string>();
        var first = transitive ? 0 : previousOldestFirst.Count - 1;
        // Newest first, so the most relevant conflict is reported first.
        for (var i = previousOldestFirst.Count - 1; i >= first; i--)
        {
            var previous = previousOldestFirst[i];
            var label = transitive ? $"version index {i}" : "latest version";
            if (backward)
            {
                problems.AddRange(AvroCompatibility.FindBackwardIncompatibilities(candidate, previous)
                    .Select(p => $"BACKWARD against {label}: new schema cannot read data written with it: {p}"));
            }

            if (forward)
            {
                problems.AddRange(AvroCompatibility.FindBackwardIncompatibilities(previous, candidate)
                    .Select(p => $"FORWARD against {label}: it cannot read data written with the new schema: {p}"));
            }
        }

        return problems;
    }

    /// <summary>True when <paramref name="candidate"/> may follow <paramref name="previousOldestFirst"/> under <paramref name="level"/>.</summary>
    public static bool IsCompatible(CompatibilityLevel level, Schema candidate, IReadOnlyList<Schema> previousOldestFirst) =>
        FindIncompatibilities(level, candidate, previousOldestFirst).Count == 0;
}
