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

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
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
