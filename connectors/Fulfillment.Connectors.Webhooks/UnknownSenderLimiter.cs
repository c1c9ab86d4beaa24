using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// Bounds how many deliveries that failed before authentication (unknown shop, missing or wrong signature) are stored,
/// per remote address and, for unknown shops, per shop key the sender named. Every delivery is kept for audit, but an
/// unknown or forging sender must not be able to fill the raw store: past its budget a delivery is answered 429 and
/// dropped (counted as <c>rate_limited</c>). Authenticated deliveries are never limited here.
/// </summary>
public sealed class UnknownSenderLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perAddress;
    private readonly PartitionedRateLimiter<string> _perShopKey;

    public UnknownSenderLimiter(IOptions<ConnectorOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options.Value;
        _perAddress = Create(o.UnauthenticatedPerAddressBurst, o.UnauthenticatedPerAddressPerMinute);
        _perShopKey = Create(o.UnknownShopBurst, o.UnknownShopPerMinute);
    }

    /// <summary>Whether one more unauthenticated delivery from <paramref name="remoteAddress"/> (naming the unknown shop
    /// <paramref name="unknownShopKey"/>, if any) may be stored.</summary>
    public bool TryAcquire(string? remoteAddress, string? unknownShopKey)
    {
        using var address = _perAddress.AttemptAcquire(remoteAddress ?? "unknown");
        if (!address.IsAcquired)
        {
            return false;
        }

        if (unknownShopKey is null)
        {
            return true;
        }

        using var key = _perShopKey.AttemptAcquire(unknownShopKey.Trim().ToUpperInvariant());
        return key.IsAcquired;
    }

    public void Dispose()
    {
        _perAddress.Dispose();
        _perShopKey.Dispose();
    }

    // Token buckets refilled by the partitioned limiter's own timer; partitions idle long enough are dropped, so a sender
    // cycling through made-up keys costs memory only while it keeps sending (and its address budget bounds that).
    private static PartitionedRateLimiter<string> Create(int burst, int perMinute) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / perMinute),
            QueueLimit = 0,
            AutoReplenishment = false,
        }));
}
