using Fulfillment.Connectors.Channels;
using Microsoft.Extensions.Options;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>
/// Republishes stored deliveries that never reached Kafka (broker down, process killed after the commit, registry
/// unreachable). Accepted rows are re-normalized from their stored bytes with the same pure receiver, so the events and
/// their ids are the ones the live path would have produced.
/// </summary>
public sealed partial class OutboxSweeper(
    RawDeliveryStore store,
    EventPublisher publisher,
    IEnumerable<IChannelReceiver> receivers,
    IOptions<ConnectorOptions> options,
    TimeProvider time,
    ILogger<OutboxSweeper> logger) : BackgroundService
{
    private readonly Dictionary<string, IChannelReceiver> _receivers = receivers.ToDictionary(r => r.Source, StringComparer.Ordinal);

    /// <summary>One pass; returns how many deliveries were queued again.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow().UtcDateTime - options.Value.SweepAfter;
        var queued = 0;
        foreach (var row in await store.LoadUnpublishedAsync(before, 1000, cancellationToken))
        {
            if (publisher.IsInFlight(row.Id))
            {
                continue;
            }

            var result = row.Accepted && _receivers.TryGetValue(row.Source, out var receiver)
                ? receiver.Receive(row.ToDelivery(), verifySignature: false)
                : new DeliveryResult(row.Status, row.Source, null, row.DeliveryId, row.EventType, row.RejectionReason, []);
            if (publisher.Enqueue(new PublishItem(row, result)))
            {
                queued++;
                ConnectorMetrics.Republished.Inc();
            }
        }

        return queued;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var queued = await SweepOnceAsync(stoppingToken);
                    if (queued > 0)
                    {
                        LogRepublished(logger, queued);
                    }
                }
                catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
                {
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Republishing {Count} stored deliveries that had not reached Kafka")]
    private static partial void LogRepublished(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox sweep failed; retrying next interval")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
