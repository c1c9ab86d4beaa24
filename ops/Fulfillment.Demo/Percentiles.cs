namespace Fulfillment.Demo;

/// <summary>Nearest-rank percentiles over a set of samples: the smallest sample with at least p of all samples at or
/// below it (so p99 of 100 samples is the 99th smallest, and a percentile is always an observed value).</summary>
public static class Percentiles
{
    /// <param name="sorted">Samples in ascending order.</param>
    /// <param name="p">Fraction in (0, 1].</param>
    public static double Of(IReadOnlyList<double> sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(p, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 1);
        var rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}

/// <summary>Thread-safe latency samples (milliseconds) for a sliding report window and the whole run.</summary>
public sealed class LatencyRecorder
{
    private readonly Lock _gate = new();
    private readonly List<double> _window = [];
    private readonly List<double> _all = [];

    public void Add(double milliseconds)
    {
        lock (_gate)
        {
            _window.Add(milliseconds);
            _all.Add(milliseconds);
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _all.Count;
            }
        }
    }

    /// <summary>p50 and p99 of the samples since the last call (NaN when none), then starts a new window.</summary>
    public (double P50, double P99, int Count) TakeWindow()
    {
        double[] samples;
        lock (_gate)
        {
            samples = [.. _window];
            _window.Clear();
        }

        Array.Sort(samples);
        return (Percentiles.Of(samples, 0.50), Percentiles.Of(samples, 0.99), samples.Length);
    }

    /// <summary>Every sample so far, sorted.</summary>
    public double[] All()
    {
        double[] samples;
        lock (_gate)
        {
            samples = [.. _all];
        }

        Array.Sort(samples);
        return samples;
    }
}
