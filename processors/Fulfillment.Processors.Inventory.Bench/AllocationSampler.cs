using System.Diagnostics.Tracing;

namespace Fulfillment.Processors.Inventory.Bench;

/// <summary>
/// Which types the process allocates, from the runtime's AllocationTick events (one per ~100 KB allocated, naming the
/// type of the object that crossed the threshold): a sample, so shares are estimates, but it needs no profiler and
/// the bench prints it next to the totals. Enabled only with <c>--alloc-types</c> (the listener costs a little CPU).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GcKeyword = 0x1;
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _recording;

    public void Start() => _recording = true;

    public List<(string Type, long Bytes)> Stop()
    {
        _recording = false;
        lock (_bytes)
        {
            return [.. _bytes.OrderByDescending(p => p.Value).Select(p => (p.Key, p.Value))];
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    /// <summary>Bytes that survived gen0 (promoted to gen1) and gen1 (to gen2) over the recorded GCs.</summary>
    public (long Gen0, long Gen1) Promoted => (Interlocked.Read(ref _promoted0), Interlocked.Read(ref _promoted1));

    private long _promoted0;
    private long _promoted1;

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventName is not { } name || eventData.Payload is null)
        {
            return;
        }

        if (name.StartsWith("GCHeapStats", StringComparison.Ordinal))
        {
            Interlocked.Add(ref _promoted0, Convert.ToInt64(eventData.Payload[eventData.PayloadNames!.IndexOf("TotalPromotedSize0")], System.Globalization.CultureInfo.InvariantCulture));
            Interlocked.Add(ref _promoted1, Convert.ToInt64(eventData.Payload[eventData.PayloadNames.IndexOf("TotalPromotedSize1")], System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        if (!name.StartsWith("GCAllocationTick", StringComparison.Ordinal))
        {
            return;
        }

        var index = eventData.PayloadNames!.IndexOf("TypeName");
        var amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
        var type = index >= 0 ? eventData.Payload[index] as string ?? "?" : "?";
        var amount = amountIndex >= 0 ? Convert.ToInt64(eventData.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        lock (_bytes)
        {
            _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }
    }
}
