namespace Fulfillment.Ops.Tests.Support;

/// <summary>One line of `ops/fulfillment services`: what `up` starts.</summary>
internal sealed record StackService(string Name, int Port, string Health, string Kind)
{
    /// <summary>A hub worker (ops/fulfillment's WORKERS table), as opposed to infrastructure.</summary>
    public bool IsWorker => Kind == "worker";

    /// <summary>Everything with an HTTP endpoint is scraped (the development broker speaks only Kafka).</summary>
    public bool IsScraped => Health.StartsWith("http://", StringComparison.Ordinal);
}

internal static class ServiceTable
{
    public static IReadOnlyList<StackService> Load()
    {
        var r = Shell.Bash("ops/fulfillment", "services");
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"ops/fulfillment services failed: {r.Output}");
        }

        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => new StackService(f[0], int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), f[2], f[3]))
            .ToList();
    }
}
