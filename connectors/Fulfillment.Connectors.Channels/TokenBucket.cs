namespace Fulfillment.Connectors.Channels;

/// <summary>
/// A token bucket as the SP-API documents its limits (rate in requests per second, burst = bucket size): a call takes
/// a token, tokens come back at <c>rate</c> per second up to <c>burst</c>. getOrders is 0.0167 req/s burst 20, so after
/// 20 quick calls the next waits about a minute.
/// </summary>
public sealed class TokenBucket
{
    private readonly double _ratePerSecond;
    private readonly double _burst;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _last;

    public TokenBucket(double ratePerSecond, int burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        ArgumentNullException.ThrowIfNull(time);
        _ratePerSecond = ratePerSecond;
        _burst = burst;
        _time = time;
        _tokens = burst;
        _last = time.GetTimestamp();
    }

    /// <summary>Takes a token if one is there; otherwise says how long until one is.</summary>
    public bool TryTake(out TimeSpan wait)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _ratePerSecond));
            _last = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                wait = TimeSpan.Zero;
                return true;
            }

            wait = TimeSpan.FromSeconds((1 - _tokens) / _ratePerSecond);
            return false;
        }
    }

    /// <summary>Waits until a token is available and takes it.</summary>
    public async Task TakeAsync(CancellationToken cancellationToken)
    {
        while (!TryTake(out var wait))
        {
            await Task.Delay(wait, _time, cancellationToken);
        }
    }

    /// <summary>The channel said to slow down (429): drop what is left so the next call waits a full refill.</summary>
    public void Drain()
    {
        lock (_lock)
        {
            _tokens = 0;
            _last = _time.GetTimestamp();
        }
    }
}
