using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Which figure a stock push sets: one SKU on one channel shop.</summary>
public readonly record struct StockKey(Channel Channel, string ShopId, string Sku);

/// <summary>A stock figure due to be pushed, with the source records it stands for (committed once it is done).</summary>
public sealed record CoalescedStock(StockKey Key, StockPush Push, IReadOnlyList<RecordTicket> Sources);

/// <summary>
/// Collapses bursts of stock changes per (channel, shop, SKU), latest wins. Available-to-sell is absolute, so dropping
/// intermediate figures loses nothing, and a checkout rush costs one API call per SKU per window instead of one per order
/// (eBay allows 250 revisions of a listing a day). The delay is bounded: a figure is due one window after the first
/// change of its burst, however many follow (a debounce would starve a SKU that keeps changing). One push per key at a
/// time: while a key's push is in flight, newer figures wait for it, so an older figure can never land after a newer one.
/// Not thread-safe; the worker serializes access.
/// </summary>
public sealed class StockCoalescer(TimeSpan window)
{
    private readonly Dictionary<StockKey, Pending> _pending = [];
    private readonly HashSet<StockKey> _inFlight = [];

    /// <summary>Figures waiting (not yet handed out).</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Keys whose push is running.</summary>
    public int InFlightCount => _inFlight.Count;

    /// <summary>Keeps <paramref name="push"/> as the key's figure unless a later one is already pending; returns true when
    /// it replaced (or was dropped for) a pending figure, i.e. one push was saved.</summary>
    public bool Add(StockPush push, DateTimeOffset now, RecordTicket? source = null)
    {
        ArgumentNullException.ThrowIfNull(push);
        var key = new StockKey(push.Channel, push.ShopId, push.Sku);
        if (!_pending.TryGetValue(key, out var pending))
        {
            pending = new Pending(push, now + window);
            _pending[key] = pending;
            pending.Add(source);
            return false;
        }

        // Out-of-order arrivals (a replayed older figure) never overwrite a newer one; their record is still covered.
        if (pending.Push.At <= push.At)
        {
            pending.Push = push;
        }

        pending.Add(source);
        return true;
    }

    /// <summary>Hands out every figure whose window has closed and whose key has no push running, marking those keys in flight.</summary>
    public IReadOnlyList<CoalescedStock> TakeDue(DateTimeOffset now)
    {
        List<CoalescedStock>? due = null;
        foreach (var (key, pending) in _pending)
        {
            if (pending.DueAt <= now && !_inFlight.Contains(key))
            {
                (due ??= []).Add(new CoalescedStock(key, pending.Push, pending.Sources));
            }
        }

        if (due is null)
        {
            return [];
        }

        foreach (var d in due)
        {
            _pending.Remove(d.Key);
            _inFlight.Add(d.Key);
        }

        return due;
    }

    /// <summary>The key's push finished (whatever its outcome): newer figures for it may go.</summary>
    public void Finish(StockKey key) => _inFlight.Remove(key);

    /// <summary>When the next pending figure falls due, if any.</summary>
    public DateTimeOffset? NextDue => _pending.Count == 0 ? null : _pending.Values.Min(p => p.DueAt);

    private sealed class Pending(StockPush push, DateTimeOffset dueAt)
    {
        public StockPush Push { get; set; } = push;

        public DateTimeOffset DueAt { get; } = dueAt;

        public List<RecordTicket> Sources { get; } = [];

        public void Add(RecordTicket? source)
        {
            if (source is { } s)
            {
                Sources.Add(s);
            }
        }
    }
}
