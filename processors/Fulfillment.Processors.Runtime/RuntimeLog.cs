using Microsoft.Extensions.Logging;

namespace Fulfillment.Processors.Runtime;

internal static partial class RuntimeLog
{
    [LoggerMessage(1, LogLevel.Information, "Runtime {ApplicationId} ({InstanceId}) starting with guarantee {Guarantee}, {Partitions} partitions")]
    public static partial void Starting(ILogger logger, string applicationId, string instanceId, ProcessingGuarantee guarantee, int partitions);

    [LoggerMessage(2, LogLevel.Information, "Tasks assigned: {Partitions} (opened and restored in {ElapsedMs} ms)")]
    public static partial void Assigned(ILogger logger, string partitions, long elapsedMs);

    [LoggerMessage(3, LogLevel.Information, "Tasks revoked (committed): {Partitions}")]
    public static partial void Revoked(ILogger logger, string partitions);

    [LoggerMessage(4, LogLevel.Warning, "Tasks lost (not committed): {Partitions}")]
    public static partial void Lost(ILogger logger, string partitions);

    [LoggerMessage(5, LogLevel.Information, "Task {Partition} store {Store}: restored {Records} changelog records ({Commits} commits applied, {Skipped} records of incomplete commits skipped), input offsets {Offsets}")]
    public static partial void Restored(ILogger logger, int partition, string store, long records, long commits, long skipped, string offsets);

    [LoggerMessage(6, LogLevel.Warning, "Task {Partition}: local state is ahead of the broker ({Detail}); the broker looks fresh. Wiping local state and rebuilding.")]
    public static partial void StaleStateRebuild(ILogger logger, int partition, string detail);

    [LoggerMessage(7, LogLevel.Warning, "Record {Topic}-{Partition}@{Offset} dead-lettered ({Reason})")]
    public static partial void DeadLettered(ILogger logger, Exception error, string topic, int partition, long offset, string reason);

    [LoggerMessage(8, LogLevel.Error, "Punctuator failed in task {Partition}")]
    public static partial void PunctuatorFailed(ILogger logger, Exception error, int partition);

    [LoggerMessage(9, LogLevel.Warning, "Group offset commit failed; local state offsets remain the truth")]
    public static partial void GroupCommitFailed(ILogger logger, Exception error);

    [LoggerMessage(10, LogLevel.Warning, "Transaction failed ({Reason}); aborting, rebuilding the producer and reloading tasks from their last commit")]
    public static partial void TransactionFailed(ILogger logger, Exception error, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Consume error (continuing): {Reason}")]
    public static partial void ConsumeError(ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Warning, "Could not identify the broker; using {Guarantee}")]
    public static partial void GuaranteeFallback(ILogger logger, Exception error, ProcessingGuarantee guarantee);

    [LoggerMessage(13, LogLevel.Information, "Runtime {ApplicationId} stopped")]
    public static partial void Stopped(ILogger logger, string applicationId);

    [LoggerMessage(14, LogLevel.Critical, "Runtime {ApplicationId} failed")]
    public static partial void Failed(ILogger logger, Exception error, string applicationId);

    [LoggerMessage(15, LogLevel.Warning, "Waiting for the producer to deliver {Count} records")]
    public static partial void FlushSlow(ILogger logger, int count);

    [LoggerMessage(16, LogLevel.Warning, "Writing a commit to local state failed while its tasks were closing; they restore from the changelog")]
    public static partial void LocalWriteFailed(ILogger logger, Exception error);
}
