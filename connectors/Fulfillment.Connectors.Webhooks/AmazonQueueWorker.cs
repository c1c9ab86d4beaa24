using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.Ingest;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>One message taken from the seller's notification queue.</summary>
/// <param name="MessageId">The queue's message id.</param>
/// <param name="ReceiptHandle">Handle to delete it with once stored.</param>
/// <param name="Body">The message body: the SP-API notification JSON.</param>
public sealed record QueueMessage(string MessageId, string ReceiptHandle, byte[] Body);

/// <summary>The seller's SP-API notification queue (SQS). Messages stay on the queue until deleted, so a delivery is
/// only deleted after it is stored.</summary>
public interface IAmazonNotificationQueue
{
    /// <summary>Queue name, recorded as the raw record's request path.</summary>
    string Name { get; }

    /// <summary>Waits for up to a batch of messages (long poll); empty when none arrived.</summary>
    Task<IReadOnlyList<QueueMessage>> ReceiveAsync(CancellationToken cancellationToken);

    Task DeleteAsync(QueueMessage message, CancellationToken cancellationToken);
}

/// <summary>Feeds queue messages through the same pipeline as the HTTP receiver (transport <c>Queue</c>: the queue
/// authenticated the sender). Runs only when an <see cref="IAmazonNotificationQueue"/> is registered.</summary>
public sealed partial class AmazonQueueWorker(
    IAmazonNotificationQueue queue, IngestPipeline pipeline, AmazonReceiver receiver, ILogger<AmazonQueueWorker> logger) : BackgroundService
{
    /// <summary>Receives one batch and ingests it; returns the replies.</summary>
    public async Task<IReadOnlyList<IngestReply>> PollOnceAsync(CancellationToken cancellationToken)
    {
        var replies = new List<IngestReply>();
        foreach (var message in await queue.ReceiveAsync(cancellationToken))
        {
            var now = DateTime.UtcNow;
            var delivery = new InboundDelivery(IngestTransport.Queue, "QUEUE", queue.Name, null,
                [new("x-queue-message-id", message.MessageId)], "application/json", message.Body,
                new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc));
            var reply = await pipeline.IngestAsync(receiver, delivery, cancellationToken);
            // Stored (even when rejected or a duplicate): the queue has nothing more to give.
            await queue.DeleteAsync(message, cancellationToken);
            replies.Add(reply);
        }

        return replies;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PollOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or HttpRequestException or IOException)
            {
                // Undeleted messages reappear after the queue's visibility timeout.
                LogPollFailed(logger, queue.Name, e);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling notification queue {Queue} failed; messages stay queued")]
    private static partial void LogPollFailed(ILogger logger, string queue, Exception exception);
}
