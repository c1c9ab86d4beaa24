using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Stock;
using Prometheus;

namespace Fulfillment.Sinks.Views;

/// <summary>
/// The views sink's metrics, <c>fulfillment_views_sink_*</c> with the unit in the name (ops/grafana/README.md). Besides
/// its own work it exports what the allocation and stock-level topics it already reads say about the business, with
/// labels bounded by configuration (outcome kinds, drift sources, locations), never by SKUs or orders.
/// </summary>
public static class ViewsSinkMetrics
{
    /// <summary><see cref="AllocationOutcomes"/> label values.</summary>
    public static class Outcomes
    {
        public const string Allocated = "allocated";
        public const string Split = "split";
        public const string Backordered = "backordered";
        public const string Released = "released";
    }

    public static readonly Counter Records = Metrics.CreateCounter(
        "fulfillment_views_sink_records_total", "Records written to the views, by topic.",
        new CounterConfiguration { LabelNames = ["topic"] });

    public static readonly Counter Rejected = Metrics.CreateCounter(
        "fulfillment_views_sink_rejected_total", "Records the views sink could not decode (kept in sink_rejects).");

    public static readonly Histogram BatchDuration = Metrics.CreateHistogram(
        "fulfillment_views_sink_batch_duration_seconds", "Time to write one batch's view rows to Postgres (both state transactions, retries included).",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });

    public static readonly Counter TransientErrors = Metrics.CreateCounter(
        "fulfillment_views_sink_transient_errors_total",
        "Postgres or schema registry errors the views sink retried (server restarting, connection lost), by operation and reason (SQLSTATE, io, timeout, registry).",
        new CounterConfiguration { LabelNames = ["operation", "reason"] });

    public static readonly Histogram StockFreshness = Metrics.CreateHistogram(
        "fulfillment_views_sink_stock_freshness_seconds",
        "Age of a stock-level change when its row commits in Postgres: wall clock at commit minus the change's recorded_at (the processor's stream time, i.e. when the input that caused it reached Kafka).",
        new HistogramConfiguration { Buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });

    public static readonly Gauge ConsumerLag = Metrics.CreateGauge(
        "fulfillment_views_sink_consumer_lag_records",
        "High watermark minus the next offset the views sink will read, per assigned partition (as of its last batch).",
        new GaugeConfiguration { LabelNames = ["topic", "partition"] });

    public static readonly Counter AllocationOutcomes = Metrics.CreateCounter(
        "fulfillment_views_sink_allocation_outcomes_total",
        "Allocation events the views took in, by outcome: allocated (one location), split (several locations), backordered, released. A backorder fill is a new decision and counts again.",
        new CounterConfiguration { LabelNames = ["outcome"] });

    public static readonly Counter DriftDetected = Metrics.CreateCounter(
        "fulfillment_views_sink_drift_detected_total",
        "Stock drift the inventory processor reported (a count or a 3PL snapshot disagreeing with the books), by what detected it.",
        new CounterConfiguration { LabelNames = ["detected_by"] });

    public static readonly Counter DriftUnits = Metrics.CreateCounter(
        "fulfillment_views_sink_drift_units_total",
        "Absolute units of stock drift reported, by what detected it.",
        new CounterConfiguration { LabelNames = ["detected_by"] });

    public static readonly Gauge StockAvailable = Metrics.CreateGauge(
        "fulfillment_views_sink_stock_available_units",
        "Units available to allocate per pool and location, summed over SKUs, as the views hold them (read from stock_levels at scrape, at most every 10 s).",
        new GaugeConfiguration { LabelNames = ["pool", "location"] });

    /// <summary>Counts what one allocation event says (called once per record written to the state track).</summary>
    public static void CountAllocation(AllocationEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e.body)
        {
            case AllocationDecided d when d.lines.Count > 0:
                var split = d.lines.Select(l => l.location_id).Distinct(StringComparer.Ordinal).Skip(1).Any();
                AllocationOutcomes.WithLabels(split ? Outcomes.Split : Outcomes.Allocated).Inc();
                break;
            case OrderBackordered:
                AllocationOutcomes.WithLabels(Outcomes.Backordered).Inc();
                break;
            case AllocationReleased:
                AllocationOutcomes.WithLabels(Outcomes.Released).Inc();
                break;
        }
    }

    /// <summary>Counts a drift report (called once per record written to the state track).</summary>
    public static void CountStock(StockLevelEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.body is DriftDetected d)
        {
            var by = d.detected_by.ToString();
            DriftDetected.WithLabels(by).Inc();
            DriftUnits.WithLabels(by).Inc(Math.Abs(d.drift));
        }
    }
}
