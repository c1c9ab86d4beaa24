using Fulfillment.Connectors.Channels;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>What the sender is told.</summary>
public enum IngestOutcome
{
    Accepted,
    Duplicate,
    Ping,
    UnknownShop,
    Unauthorized,
    Malformed,
    /// <summary>Unauthenticated and over its sender's budget: not stored.</summary>
    RateLimited,
}

/// <summary>The answer to one delivery.</summary>
public sealed record IngestReply(IngestOutcome Outcome, string DeliveryId, string? Reason)
{
    public int StatusCode => Outcome switch
    {
        IngestOutcome.Accepted or IngestOutcome.Duplicate or IngestOutcome.Ping => StatusCodes.Status200OK,
        IngestOutcome.UnknownShop => StatusCodes.Status404NotFound,
        IngestOutcome.Unauthorized => StatusCodes.Status401Unauthorized,
        IngestOutcome.RateLimited => StatusCodes.Status429TooManyRequests,
        _ => StatusCodes.Status400BadRequest,
    };

    public string MetricOutcome => Outcome switch
    {
        IngestOutcome.Accepted => ConnectorMetrics.Outcomes.Accepted,
        IngestOutcome.Duplicate => ConnectorMetrics.Outcomes.Duplicate,
        IngestOutcome.Ping => ConnectorMetrics.Outcomes.Ping,
        IngestOutcome.UnknownShop => ConnectorMetrics.Outcomes.UnknownShop,
        IngestOutcome.Unauthorized => ConnectorMetrics.Outcomes.Unauthorized,
        IngestOutcome.RateLimited => ConnectorMetrics.Outcomes.RateLimited,
        _ => ConnectorMetrics.Outcomes.Malformed,
    };
}

/// <summary>
/// One delivery, any transport: receive (verify + normalize, pure), store the raw delivery durably with dedupe
/// (decision 4: nothing else happens before it is stored), then hand it to the publisher and answer. Every delivery is
/// stored, rejected ones included (decision 7); only accepted ones are deduplicated and normalized.
/// </summary>
public sealed class IngestPipeline(RawDeliveryStore store, EventPublisher publisher, UnknownSenderLimiter limiter)
{
    /// <exception cref="Npgsql.NpgsqlException">The delivery could not be stored; the sender must be told to retry.</exception>
    public Task<IngestReply> IngestAsync(IChannelReceiver receiver, InboundDelivery delivery, CancellationToken cancellationToken) =>
        IngestAsync(receiver, delivery, remoteAddress: null, cancellationToken);

    /// <param name="remoteAddress">The HTTP peer, for webhooks: unauthenticated deliveries are limited per address.</param>
    /// <exception cref="Npgsql.NpgsqlException">The delivery could not be stored; the sender must be told to retry.</exception>
    public async Task<IngestReply> IngestAsync(IChannelReceiver receiver, InboundDelivery delivery, System.Net.IPAddress? remoteAddress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(delivery);
        var result = receiver.Receive(delivery);
        if (delivery.Transport == Schemas.Ingest.IngestTransport.Webhook
            && result.Status is DeliveryStatus.UnknownShop or DeliveryStatus.Unauthorized
            && !limiter.TryAcquire(remoteAddress?.ToString(), result.Status == DeliveryStatus.UnknownShop ? $"{receiver.Source}:{result.ClaimedShop}" : null))
        {
            var limited = new IngestReply(IngestOutcome.RateLimited, result.DeliveryId, "too many unauthenticated deliveries from this sender; not stored");
            ConnectorMetrics.Delivery(receiver.Source, limited.MetricOutcome).Inc();
            return limited;
        }

        var row = RawDeliveryRow.From(delivery, result);
        var stored = await store.InsertAsync(row, cancellationToken);
        if (stored)
        {
            publisher.Enqueue(new PublishItem(row, result));
        }

        var outcome = result.Status switch
        {
            DeliveryStatus.Accepted => stored ? IngestOutcome.Accepted : IngestOutcome.Duplicate,
            DeliveryStatus.Ping => IngestOutcome.Ping,
            DeliveryStatus.UnknownShop => IngestOutcome.UnknownShop,
            DeliveryStatus.Unauthorized => IngestOutcome.Unauthorized,
            _ => IngestOutcome.Malformed,
        };
        var reply = new IngestReply(outcome, result.DeliveryId, result.Reason);
        ConnectorMetrics.Delivery(receiver.Source, reply.MetricOutcome).Inc();
        return reply;
    }
}
