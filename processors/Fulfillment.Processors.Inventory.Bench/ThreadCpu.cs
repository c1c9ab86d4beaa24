using System.Globalization;

namespace Fulfillment.Processors.Inventory.Bench;

/// <summary>
/// CPU time of this process's threads grouped by thread name (Linux <c>/proc/self/task</c>), so a run on a loaded,
/// shared machine still shows where the cycles went: the runtime's processing thread (".NET Long Running"),
/// librdkafka's client and mock-broker threads ("rdk:*"), the GC and the JIT. Empty where /proc is missing.
/// </summary>
internal static class ThreadCpu
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public static Dictionary<int, (string Name, double Seconds)> Snapshot()
    {
        var result = new Dictionary<int, (string, double)>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return result;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                var name = stat[(open + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                // After the name: state is field 0, utime field 11, stime field 12.
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                result[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] = (name, ticks / TicksPerSecond);
            }
            catch (IOException)
            {
                // The thread ended between listing and reading.
            }
        }

        return result;
    }

    /// <summary>CPU seconds per thread name since <paramref name="start"/>, largest first.</summary>
    public static List<(string Name, double Seconds)> Since(Dictionary<int, (string Name, double Seconds)> start)
    {
        var now = Snapshot();
        return [.. now
            .Select(p => (p.Value.Name, Seconds: p.Value.Seconds - (start.TryGetValue(p.Key, out var s) ? s.Seconds : 0)))
            .GroupBy(t => t.Name)
            .Select(g => (g.Key, g.Sum(t => t.Seconds)))
            .Where(t => t.Item2 > 0.005)
            .OrderByDescending(t => t.Item2)];
    }
}
