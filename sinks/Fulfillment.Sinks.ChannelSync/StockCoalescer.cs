using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>
/// Collapses bursts of stock changes: for each (channel, shop, SKU) only the latest available-to-sell figure is kept
/// until the window closes, then pushed once. Available-to-sell is absolute, so dropping intermediate figures loses
/// nothing and a checkout rush costs one API call per SKU per window instead of one per order.
/// </summary>
public sealed class StockCoalescer
{
    private readonly Dictionary<(Channel, string, string), StockPush> _pending = [];
    private readonly Lock _lock = new();

    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Keeps <paramref name="push"/> unless a later figure for the same SKU is already pending.</summary>
    public void Add(StockPush push)
    {
        ArgumentNullException.ThrowIfNull(push);
        lock (_lock)
        {
            var key = (push.Channel, push.ShopId, push.Sku);
            if (!_pending.TryGetValue(key, out var existing) || existing.At <= push.At)
            {
                _pending[key] = push;
            }
        }
    }

    /// <summary>Everything pending, emptied.</summary>
    public IReadOnlyList<StockPush> Drain()
    {
        lock (_lock)
        {
            var all = _pending.Values.ToList();
            _pending.Clear();
            return all;
        }
    }
}
