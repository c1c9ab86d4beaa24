using Prometheus;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>Connector metrics; names follow <c>fulfillment_connector_*</c> with the unit as suffix. The <c>channel</c>
/// label is the receiving connector's source name, the same concept the sinks label <c>channel</c>.</summary>
internal static class ConnectorMetrics
{
    /// <summary>Outcome label values.</summary>
    public static class Outcomes
    {
        public const string Accepted = "accepted";
        public const string Duplicate = "duplicate";
        public const string Ping = "ping";
        public const string Unauthorized = "unauthorized";
        public const string UnknownShop = "unknown_shop";
        public const string Malformed = "malformed";
        public const string TooLarge = "too_large";
        public const string StoreFailed = "store_failed";
        public const string RateLimited = "rate_limited";
    }

    public static readonly Counter Deliveries = Metrics.CreateCounter(
        "fulfillment_connector_deliveries_total",
        "Inbound deliveries by channel (the receiving connector: shopify, woocommerce, amazon, ebay, tiktok-shop, or a carrier/3PL source) and outcome (accepted, duplicate, ping, unauthorized, unknown_shop, malformed, too_large, store_failed, rate_limited).",
        new CounterConfiguration { LabelNames = ["channel", "outcome"] });

    public static readonly Histogram AckDuration = Metrics.CreateHistogram(
        "fulfillment_connector_ack_duration_seconds",
        "Time from the start of a webhook request to its answer, raw delivery stored.",
        new HistogramConfiguration
        {
            LabelNames = ["channel"],
            Buckets = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        });

    public static readonly Histogram StoreBatchRows = Metrics.CreateHistogram(
        "fulfillment_connector_raw_store_batch_rows",
        "Deliveries written to Postgres per group commit.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 12) });

    public static readonly Counter EventsProduced = Metrics.CreateCounter(
        "fulfillment_connector_events_produced_total",
        "Records acknowledged by Kafka, by topic.",
        new CounterConfiguration { LabelNames = ["topic"] });

    public static readonly Counter ProduceFailures = Metrics.CreateCounter(
        "fulfillment_connector_produce_failures_total",
        "Deliveries whose records Kafka did not acknowledge (left for the sweeper).");

    public static readonly Counter UnknownSkuLines = Metrics.CreateCounter(
        "fulfillment_connector_unknown_sku_lines_total",
        "Order lines flagged UnknownSku, by channel.",
        new CounterConfiguration { LabelNames = ["channel"] });

    public static readonly Counter Republished = Metrics.CreateCounter(
        "fulfillment_connector_republished_deliveries_total",
        "Stored deliveries the sweeper published because the live path had not.");

    public static readonly Gauge PublishBacklog = Metrics.CreateGauge(
        "fulfillment_connector_publish_backlog_deliveries",
        "Stored deliveries queued or in flight to Kafka.");
}
