using Fulfillment.Schemas.ChannelPush;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.DeadLetters;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Fulfillment.Sinks.ChannelSync;

/// <summary>Where attempt outcomes and dead letters go (Kafka in the worker).</summary>
public interface IPushRecorder
{
    Task RecordAsync(ChannelPushOutcome outcome, CancellationToken cancellationToken);

    Task DeadLetterAsync(DeadLetter deadLetter, CancellationToken cancellationToken);
}

/// <summary>What to push, to which channel, as which operation.</summary>
public sealed record PushRequest(
    string PushId,
    string PoolId,
    string CorrelationId,
    string CausationId,
    Channel Channel,
    string ShopId,
    PushOperation Operation,
    string TargetId,
    Func<IChannelPusher, ChannelEndpoint, CancellationToken, Task<PushResult>> Call,
    string SourceTopic,
    int SourcePartition = -1,
    long SourceOffset = -1,
    byte[]? SourceValue = null);

/// <summary>
/// Runs one push with bounded retries: exponential backoff with full jitter, or exactly the channel's Retry-After /
/// THROTTLED wait when it gives one; a refusal (4xx, userErrors) is not retried. Every attempt yields an outcome event
/// (Pushed, Retrying with the next attempt's time, DeadLettered); after the last attempt the push is dead-lettered with
/// the reason. Idempotency is the pushers' job (they check before creating), so a retry after a lost response is safe.
/// </summary>
public sealed partial class PushExecutor(
    IEnumerable<IChannelPusher> pushers,
    IPushRecorder recorder,
    IOptions<ChannelSyncOptions> options,
    TimeProvider time,
    ILogger<PushExecutor> logger,
    Func<TimeSpan, CancellationToken, Task>? delay = null)
{
    private static readonly Counter Attempts = Metrics.CreateCounter(
        "fulfillment_channel_sync_push_attempts_total",
        "Push attempts by channel, operation and outcome (Pushed, AlreadyPushed, NotApplicable, Retrying, DeadLettered).",
        new CounterConfiguration { LabelNames = ["channel", "operation", "outcome"] });

    private static readonly Histogram AttemptDuration = Metrics.CreateHistogram(
        "fulfillment_channel_sync_push_duration_seconds", "Time one push attempt spent calling the channel (all its HTTP calls), by channel and operation.",
        new HistogramConfiguration { LabelNames = ["channel", "operation"], Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });

    private static readonly Counter DeadLetters = Metrics.CreateCounter(
        "fulfillment_channel_sync_dead_letters_total", "Pushes given up on, by channel, operation and reason (Rejected, RetriesExhausted, Unconfigured).",
        new CounterConfiguration { LabelNames = ["channel", "operation", "reason"] });

    private readonly Dictionary<Channel, IChannelPusher> _pushers = pushers.ToDictionary(p => p.Channel);
    private readonly Func<TimeSpan, CancellationToken, Task> _delay = delay ?? ((d, ct) => Task.Delay(d, time, ct));

    /// <summary>Pushes until it succeeds, is refused, or runs out of attempts; returns the final outcome.</summary>
    public async Task<PushOutcome> ExecuteAsync(PushRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var o = options.Value;
        var shop = o.Shops.FirstOrDefault(s => s.Channel == request.Channel && string.Equals(s.ShopId, request.ShopId, StringComparison.OrdinalIgnoreCase));
        if (shop?.BaseUrl is null || !_pushers.TryGetValue(request.Channel, out var pusher))
        {
            var reason = shop is null ? $"no ChannelSync endpoint for {request.Channel} shop {request.ShopId}" : $"no pusher for {request.Channel}";
            return await DeadLetterAsync(request, 1, null, reason, "Unconfigured", cancellationToken);
        }

        for (var attempt = 1; ; attempt++)
        {
            PushResult result;
            var started = time.GetTimestamp();
            try
            {
                result = await request.Call(pusher, shop, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Network failures, timeouts and answers of an unexpected shape are all treated like a lost response:
                // the pushers check before creating, so retrying is safe, and a push that keeps failing is dead-lettered
                // rather than stopping the worker or silently vanishing.
                result = new PushResult(PushStatus.Retry, null, $"{e.GetType().Name}: {e.Message}");
            }
            finally
            {
                AttemptDuration.WithLabels(request.Channel.ToString(), request.Operation.ToString()).Observe(time.GetElapsedTime(started).TotalSeconds);
            }

            if (result.Status is PushStatus.Pushed or PushStatus.AlreadyPushed or PushStatus.NotApplicable)
            {
                await RecordAsync(request, attempt, PushOutcome.Pushed, result, null, cancellationToken);
                return PushOutcome.Pushed;
            }

            if (result.Status == PushStatus.Rejected || attempt >= o.MaxAttempts)
            {
                var why = result.Status == PushStatus.Rejected ? "refused" : $"still failing after {attempt} attempts";
                return await DeadLetterAsync(request, attempt, result, $"{why}: {result.Error}", result.Status == PushStatus.Rejected ? "Rejected" : "RetriesExhausted", cancellationToken);
            }

            var wait = result.RetryAfter ?? Backoff(attempt, o.BaseDelay, o.MaxDelay);
            await RecordAsync(request, attempt, PushOutcome.Retrying, result, time.GetUtcNow().UtcDateTime + wait, cancellationToken);
            LogRetrying(logger, request.Channel, request.Operation, request.TargetId, attempt, wait, result.Error ?? "");
            await _delay(wait, cancellationToken);
        }
    }

    /// <summary>Full jitter: uniform in [0, min(max, base·2^(attempt−1))], so synchronized failures spread out.</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        var ceiling = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    private async Task<PushOutcome> DeadLetterAsync(PushRequest request, int attempt, PushResult? result, string reason, string errorType, CancellationToken cancellationToken)
    {
        await RecordAsync(request, attempt, PushOutcome.DeadLettered, result ?? new PushResult(PushStatus.Rejected, null, reason), null, cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        await recorder.DeadLetterAsync(new DeadLetter
        {
            metadata = Metadata(request, $"{request.PushId}|dead-letter", now),
            source_topic = request.SourceTopic,
            source_partition = request.SourcePartition,
            source_offset = request.SourceOffset,
            key = System.Text.Encoding.UTF8.GetBytes(request.PoolId),
            value = request.SourceValue,
            headers = [],
            reason = $"{request.Channel} {request.Operation} {request.TargetId}: {reason}",
            error_type = errorType,
            failed_at = now,
            consumer_group = options.Value.ConsumerGroup,
        }, cancellationToken);
        DeadLetters.WithLabels(request.Channel.ToString(), request.Operation.ToString(), errorType).Inc();
        LogDeadLettered(logger, request.Channel, request.Operation, request.TargetId, attempt, reason);
        return PushOutcome.DeadLettered;
    }

    private Task RecordAsync(PushRequest request, int attempt, PushOutcome outcome, PushResult result, DateTime? next, CancellationToken cancellationToken)
    {
        var label = outcome == PushOutcome.Pushed && (result.Status is PushStatus.AlreadyPushed or PushStatus.NotApplicable) ? result.Status.ToString() : outcome.ToString();
        Attempts.WithLabels(request.Channel.ToString(), request.Operation.ToString(), label).Inc();
        return recorder.RecordAsync(new ChannelPushOutcome
        {
            metadata = Metadata(request, $"{request.PushId}|attempt-{attempt}", time.GetUtcNow().UtcDateTime),
            channel = request.Channel,
            shop_id = request.ShopId,
            operation = request.Operation,
            push_id = request.PushId,
            target_id = request.TargetId,
            attempt = attempt,
            outcome = outcome,
            http_status = result.HttpStatus,
            error = result.Status switch
            {
                PushStatus.Pushed => null,
                PushStatus.AlreadyPushed => "already on the channel; not sent again",
                PushStatus.NotApplicable => $"not sent: {result.Error}",
                _ => result.Error,
            },
            next_attempt_at = next,
        }, cancellationToken);
    }

    private static EventMetadata Metadata(PushRequest request, string idInput, DateTime now) => new()
    {
        event_id = DeterministicId(idInput),
        pool_id = request.PoolId,
        correlation_id = request.CorrelationId,
        causation_id = request.CausationId,
        source_system = "channel-sync",
        source_id = request.PushId,
        occurred_at = now,
        recorded_at = now,
    };

    internal static string DeterministicId(string input)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(input));
        return new Guid(hash.AsSpan(0, 16)).ToString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Channel} {Operation} {Target}: attempt {Attempt} failed, retrying in {Wait}: {Error}")]
    private static partial void LogRetrying(ILogger logger, Channel channel, PushOperation operation, string target, int attempt, TimeSpan wait, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Channel} {Operation} {Target}: dead-lettered after attempt {Attempt}: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, Channel channel, PushOperation operation, string target, int attempt, string reason);
}
