using System.Net.Sockets;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Npgsql;
using Prometheus;

namespace Fulfillment.Hosting;

/// <summary>
/// Runs one Postgres, schema registry or Kafka produce operation again, with capped exponential backoff, for as long as
/// it fails with an error that a restart, failover or short outage of the server causes, instead of stopping the worker.
/// Callers wrap only operations that are idempotent when applied twice (the views sink's transactions are upserts that
/// change nothing the second time and offsets only move forward; channel sync's outcome records carry deterministic
/// ids; a decode is a read), so an operation whose answer was lost and is redone changes nothing. Anything else (a bug, a
/// constraint violation, an unknown schema id) still fails the caller at once.
/// </summary>
/// <param name="dataSource">Pool cleared after a failure (pooled connections to a restarted server are all dead).</param>
/// <param name="component">Who retries, for the log ("Views sink", "Channel sync").</param>
/// <param name="errors">Counter incremented per retried failure, labelled operation and reason.</param>
public sealed partial class TransientRetry(NpgsqlDataSource? dataSource, ILogger logger, string component, Counter errors)
{
    /// <summary>First wait; doubled per failure up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Transient failures retried by this instance.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    private long _retries;

    /// <summary>Whether <paramref name="e"/> is worth retrying, and a short label for it.</summary>
    public static bool IsTransient(Exception e, out string reason)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case PostgresException pg:
                    reason = pg.SqlState;
                    // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up / shutting down, class 08 connection
                    // exceptions; 53300 too many connections (the clients of a restarted server all reconnect at once);
                    // 40001 / 40P01 serialization failure and deadlock (the transaction rolled back whole).
                    return pg.SqlState is "57P01" or "57P02" or "57P03" or "53300" or "40001" or "40P01"
                        || pg.SqlState.StartsWith("08", StringComparison.Ordinal);
                case SocketException or IOException or EndOfStreamException:
                    reason = "io";
                    return true;
                case TimeoutException:
                    reason = "timeout";
                    return true;
                case SchemaRegistryException sr:
                    // The registry answers 5xx while its own Postgres restarts; 4xx (unknown schema id) is permanent.
                    reason = "registry";
                    return (int)sr.Status >= 500;
                case HttpRequestException:
                    reason = "registry";
                    return true;
                case KafkaException kafka:
                    // A produce that timed out or lost its broker; a fatal error (fenced, unsupported) is not retried.
                    reason = "kafka";
                    return !kafka.Error.IsFatal;
                case NpgsqlException { IsTransient: true }:
                    reason = "io";
                    return true;
            }
        }

        reason = "";
        return false;
    }

    /// <summary>Runs <paramref name="action"/> until it succeeds, a non-transient error is thrown, or
    /// <paramref name="ct"/> is cancelled while waiting.</summary>
    public async Task<T> RunAsync<T>(string operation, Func<Task<T>> action, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(action);
        var delay = FirstDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action();
            }
            catch (Exception e) when (e is not OperationCanceledException && IsTransient(e, out var reason))
            {
                errors.WithLabels(operation, reason).Inc();
                Interlocked.Increment(ref _retries);
                LogTransient(logger, component, operation, attempt, reason, (int)delay.TotalMilliseconds, e.Message);
                // Pooled connections to a restarted server are all dead; drop them instead of failing on each in turn.
                dataSource?.Clear();
                await Task.Delay(Jittered(delay), ct);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
            }
        }
    }

    public Task RunAsync(string operation, Func<Task> action, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(action);
        return RunAsync(operation, async () =>
        {
            await action();
            return true;
        }, ct);
    }

    // ±20 %: sinks and workers that lost the same server do not all come back in the same millisecond.
    private static TimeSpan Jittered(TimeSpan delay) => delay * (0.8 + (Random.Shared.NextDouble() * 0.4));

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Component}: {Operation} failed (attempt {Attempt}, {Reason}), retrying in ~{DelayMs} ms: {Error}")]
    private static partial void LogTransient(ILogger logger, string component, string operation, int attempt, string reason, int delayMs, string error);
}
