using System.Globalization;

namespace Fulfillment.Demo;

/// <summary>CPU time used so far per component, in seconds.</summary>
public sealed record CpuSnapshot(IReadOnlyDictionary<string, double> Seconds)
{
    /// <summary>Microseconds per order each component spent between <paramref name="before"/> and this snapshot, less
    /// what it spends idle (<paramref name="idlePerSecond"/> × the seconds in between): the work the orders caused, which
    /// does not depend on the rate the machine allowed, unlike the idle share of a slow run.</summary>
    public IReadOnlyList<(string Component, double MicrosPerOrder)> PerOrderSince(
        CpuSnapshot before, long orders, double seconds, IReadOnlyDictionary<string, double>? idlePerSecond = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        return orders <= 0
            ? []
            : [.. Seconds.Where(kv => before.Seconds.ContainsKey(kv.Key))
                .Select(kv => (kv.Key, Math.Max(0, kv.Value - before.Seconds[kv.Key] - (idlePerSecond?.GetValueOrDefault(kv.Key) ?? 0) * seconds) * 1e6 / orders))
                .OrderByDescending(x => x.Item2)];
    }

    /// <summary>CPU seconds per second each component used between <paramref name="before"/> and this snapshot.</summary>
    public IReadOnlyDictionary<string, double> RateSince(CpuSnapshot before, double seconds)
    {
        ArgumentNullException.ThrowIfNull(before);
        return Seconds.Where(kv => before.Seconds.ContainsKey(kv.Key) && seconds > 0)
            .ToDictionary(kv => kv.Key, kv => Math.Max(0, kv.Value - before.Seconds[kv.Key]) / seconds, StringComparer.Ordinal);
    }
}

/// <summary>
/// What the e2e bench watches besides the views: the CPU time of every process of the stack (from /proc, so it does
/// not depend on how busy the machine is, unlike wall-clock throughput on a shared 2-core box) and the backlog each
/// stage reports in its metrics (connector publish queue, processor and views-sink consumer lag), so a run says where
/// the orders waited.
/// </summary>
/// <param name="pidsDirectory">The stack's pid files (<c>NAME.pid</c>, first token the pid), as <c>up</c> writes them.</param>
/// <param name="postmasterPidFile">Postgres's <c>postmaster.pid</c>: the postmaster and every backend are summed.</param>
/// <param name="metrics">Component name → its <c>/metrics</c> URL.</param>
public sealed class StackObserver(string? pidsDirectory, string? postmasterPidFile, IReadOnlyDictionary<string, Uri> metrics) : IDisposable
{
    // USER_HZ: the unit of /proc/PID/stat times; 100 on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    /// <summary>Gauges that hold a stage's backlog, by the label printed for them.</summary>
    private static readonly (string Label, string Metric)[] BacklogGauges =
    [
        ("connector publish queue", "fulfillment_connector_publish_backlog_deliveries"),
        ("processor consumer lag", "fulfillment_runtime_consumer_lag_records"),
        ("views sink consumer lag", "fulfillment_views_sink_consumer_lag_records"),
    ];

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };

    public static StackObserver None { get; } = new(null, null, new Dictionary<string, Uri>());

    public CpuSnapshot Cpu()
    {
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["driver"] = OwnTicks("/proc/self/stat") / TicksPerSecond,
        };
        if (pidsDirectory is not null && Directory.Exists(pidsDirectory))
        {
            foreach (var file in Directory.GetFiles(pidsDirectory, "*.pid"))
            {
                if (ReadPid(file) is { } pid && StatFields(pid) is { } f)
                {
                    seconds[Path.GetFileNameWithoutExtension(file)] = (f.Utime + f.Stime + f.ChildUtime + f.ChildStime) / TicksPerSecond;
                }
            }
        }

        if (postmasterPidFile is not null && ReadPid(postmasterPidFile) is { } postmaster && StatFields(postmaster) is { } pm)
        {
            // Backends that exited were reaped by the postmaster, so their time is in its child counters.
            var ticks = pm.Utime + pm.Stime + pm.ChildUtime + pm.ChildStime;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                    && StatFields(pid) is { } f && f.Parent == postmaster)
                {
                    ticks += f.Utime + f.Stime;
                }
            }

            seconds["postgres"] = ticks / TicksPerSecond;
        }

        return new CpuSnapshot(seconds);
    }

    /// <summary>Each backlog gauge summed over its labels, 0 when a component does not answer.</summary>
    public async Task<IReadOnlyDictionary<string, double>> BacklogAsync(CancellationToken ct)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var url in metrics.Values)
        {
            string text;
            try
            {
                text = await _http.GetStringAsync(url, ct);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                continue;
            }

            foreach (var (label, metric) in BacklogGauges)
            {
                if (SumOf(text, metric) is { } sum)
                {
                    result[label] = result.GetValueOrDefault(label) + sum;
                }
            }
        }

        return result;
    }

    /// <summary>Sum of every sample of <paramref name="metric"/> in a Prometheus text exposition, null when absent.</summary>
    public static double? SumOf(string exposition, string metric)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        double? sum = null;
        foreach (var line in exposition.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(metric) || line.Length == metric.Length || (line[metric.Length] != '{' && line[metric.Length] != ' '))
            {
                continue;
            }

            var value = line[(line.LastIndexOf(' ') + 1)..];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            {
                sum = (sum ?? 0) + v;
            }
        }

        return sum;
    }

    /// <summary>The 1, 5 and 15 minute load averages (/proc/loadavg), "?" where there are none.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
        catch (UnauthorizedAccessException)
        {
            return "?";
        }
    }

    public void Dispose() => _http.Dispose();

    private static long OwnTicks(string path) =>
        ParseStat(TryRead(path)) is { } f ? f.Utime + f.Stime : 0;

    private static int? ReadPid(string file)
    {
        var text = TryRead(file);
        var first = text?.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    private static Stat? StatFields(int pid) => ParseStat(TryRead($"/proc/{pid}/stat"));

    private sealed record Stat(int Parent, long Utime, long Stime, long ChildUtime, long ChildStime);

    /// <summary>Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses): state, ppid,
    /// ..., utime (14th field overall), stime, cutime, cstime.</summary>
    private static Stat? ParseStat(string? text)
    {
        var close = text?.LastIndexOf(')') ?? -1;
        if (text is null || close < 0)
        {
            return null;
        }

        var f = text[(close + 2)..].Split(' ');
        if (f.Length < 15)
        {
            return null;
        }

        static long L(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;
        return new Stat((int)L(f[1]), L(f[11]), L(f[12]), L(f[13]), L(f[14]));
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
