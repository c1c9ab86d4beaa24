using System.Net;
using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Units of one channel order line in a package.</summary>
public sealed record PushLine(string LineId, string Sku, int Quantity);

/// <summary>Tracking for one package, to be pushed to the channel the order came from.</summary>
/// <param name="PushId">Deterministic id, the same across attempts and replays (idempotency key).</param>
public sealed record ShipmentPush(
    string PushId,
    string PoolId,
    string CorrelationId,
    string CausationId,
    Channel Channel,
    string ShopId,
    string ChannelOrderId,
    string ShipmentId,
    string Carrier,
    string? Service,
    string? TrackingNumber,
    string? TrackingUrl,
    IReadOnlyList<PushLine> Lines,
    DateTime ShippedAt);

/// <summary>Available-to-sell of one SKU on one shop.</summary>
public sealed record StockPush(string PushId, string PoolId, string CausationId, Channel Channel, string ShopId, string Sku, int Available, DateTime At);

/// <summary>What one call to a channel achieved.</summary>
public enum PushStatus
{
    /// <summary>The channel accepted it.</summary>
    Pushed,
    /// <summary>The channel already has it (an earlier attempt succeeded): nothing was sent again.</summary>
    AlreadyPushed,
    /// <summary>Transient (429, 5xx, THROTTLED, network): try again, after <see cref="PushResult.RetryAfter"/> if the channel said.</summary>
    Retry,
    /// <summary>The channel refused it (4xx, userErrors): retrying cannot help.</summary>
    Rejected,
    /// <summary>Deliberately not sent (e.g. an Amazon listing fulfilled by Amazon: FBA stock is Amazon's to set).</summary>
    NotApplicable,
}

public sealed record PushResult(PushStatus Status, int? HttpStatus = null, string? Error = null, TimeSpan? RetryAfter = null)
{
    public static PushResult Ok(int status) => new(PushStatus.Pushed, status);

    /// <summary>Classifies a plain REST response: 2xx ok; 408/429/5xx retry (honouring Retry-After); other 4xx rejected.</summary>
    public static async Task<PushResult> FromResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            return Ok(status);
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var error = $"HTTP {status}: {Truncate(body)}";
        return response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || status >= 500
            ? new PushResult(PushStatus.Retry, status, error, RetryAfterOf(response))
            : new PushResult(PushStatus.Rejected, status, error);
    }

    public static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - DateTimeOffset.UtcNow is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero : null;
    }

    public static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "…";
}

/// <summary>Calls one channel's API.</summary>
public interface IChannelPusher
{
    Channel Channel { get; }

    PushOperation ShipmentOperation { get; }

    /// <summary>Pushes tracking for a package. Must be idempotent: if the channel already has this package, return
    /// <see cref="PushStatus.AlreadyPushed"/> without creating a second fulfillment.</summary>
    Task<PushResult> PushShipmentAsync(ChannelEndpoint shop, ShipmentPush push, CancellationToken cancellationToken);

    /// <summary>Sets available-to-sell (absolute, so repeating it is harmless).</summary>
    Task<PushResult> PushStockAsync(ChannelEndpoint shop, StockPush push, CancellationToken cancellationToken);
}
