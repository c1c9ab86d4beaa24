using Prometheus;

namespace Fulfillment.Processors.Runtime;

/// <summary>Prometheus metrics of the runtime: one naming scheme, <c>fulfillment_runtime_*</c> with the unit in the name.
/// Labelled by application id so several topologies in one process stay apart.</summary>
internal static class RuntimeMetrics
{
    public static readonly Counter RecordsIn = Metrics.CreateCounter(
        "fulfillment_runtime_records_in_total", "Input records processed (including dead-lettered ones).",
        "application", "topic");

    public static readonly Counter RecordsOut = Metrics.CreateCounter(
        "fulfillment_runtime_records_out_total", "Records forwarded to output topics (excluding changelogs).",
        "application", "topic");

    public static readonly Histogram ProcessingLatency = Metrics.CreateHistogram(
        "fulfillment_runtime_processing_duration_seconds", "Time the handler took for one input record.",
        new HistogramConfiguration
        {
            LabelNames = ["application"],
            Buckets = Histogram.ExponentialBuckets(0.000_005, 4, 10),
        });

    public static readonly Histogram EventAgeAtOutput = Metrics.CreateHistogram(
        "fulfillment_runtime_event_age_at_output_seconds", "Wall-clock age of the input record (from its timestamp) when its output was forwarded.",
        new HistogramConfiguration
        {
            LabelNames = ["application"],
            Buckets = Histogram.ExponentialBuckets(0.001, 2, 16),
        });

    public static readonly Histogram CommitLatency = Metrics.CreateHistogram(
        "fulfillment_runtime_commit_duration_seconds", "Time to commit all tasks (flush outputs and changelogs, write state, commit offsets).",
        new HistogramConfiguration
        {
            LabelNames = ["application"],
            Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14),
        });

    public static readonly Gauge ConsumerLag = Metrics.CreateGauge(
        "fulfillment_runtime_consumer_lag_records", "High watermark minus the next offset to process, per input partition.",
        "application", "topic", "partition");

    public static readonly Gauge RestoreRemaining = Metrics.CreateGauge(
        "fulfillment_runtime_restore_remaining_records", "Changelog records still to read while restoring a task's store.",
        "application", "store", "partition");

    public static readonly Counter RestoredRecords = Metrics.CreateCounter(
        "fulfillment_runtime_restored_records_total", "Changelog records read while restoring stores.",
        "application", "store");

    public static readonly Counter DeadLetters = Metrics.CreateCounter(
        "fulfillment_runtime_dead_letters_total", "Records sent to the dead-letter topic (or punctuator failures), by reason.",
        "application", "reason");
}
