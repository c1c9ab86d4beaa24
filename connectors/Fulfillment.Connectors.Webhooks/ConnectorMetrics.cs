using System.Collections.Concurrent;
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

    // Nothing here traces requests, so there is never an exemplar to attach; the default provider still looked for one (the
    // current Activity) on every observation of the per-request metrics.
    private static readonly ExemplarBehavior NoExemplars = ExemplarBehavior.NoExemplars();

    public static readonly Counter Deliveries = Metrics.CreateCounter(
        "fulfillment_connector_deliveries_total",
        "Inbound deliveries by channel (the receiving connector: shopify, woocommerce, amazon, ebay, tiktok-shop, or a carrier/3PL source) and outcome (accepted, duplicate, ping, unauthorized, unknown_shop, malformed, too_large, store_failed, rate_limited).",
        new CounterConfiguration { LabelNames = ["channel", "outcome"], ExemplarBehavior = NoExemplars });

    public static readonly Histogram AckDuration = Metrics.CreateHistogram(
        "fulfillment_connector_ack_duration_seconds",
        "Time from the start of a webhook request to its answer, raw delivery stored.",
        new HistogramConfiguration
        {
            LabelNames = ["channel"],
            Buckets = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
            ExemplarBehavior = NoExemplars,
        });

    public static readonly Histogram StoreBatchRows = Metrics.CreateHistogram(
        "fulfillment_connector_raw_store_batch_rows",
        "Deliveries written to Postgres per group commit.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 12), ExemplarBehavior = NoExemplars });

    public static readonly Counter EventsProduced = Metrics.CreateCounter(
        "fulfillment_connector_events_produced_total",
        "Records acknowledged by Kafka, by topic.",
        new CounterConfiguration { LabelNames = ["topic"], ExemplarBehavior = NoExemplars });

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

    // Labelled children of the per-request and per-record metrics, looked up once: WithLabels hashes the label values and
    // takes the family's lock on every call.
    private static readonly ConcurrentDictionary<(string Channel, string Outcome), Counter.Child> DeliveryChildren = new();
    private static readonly ConcurrentDictionary<string, Histogram.Child> AckDurationChildren = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, Counter.Child> EventsProducedChildren = new(StringComparer.Ordinal);

    public static Counter.Child Delivery(string channel, string outcome) =>
        DeliveryChildren.GetOrAdd((channel, outcome), static k => Deliveries.WithLabels(k.Channel, k.Outcome));

    public static Histogram.Child AckDurationOf(string channel) =>
        AckDurationChildren.GetOrAdd(channel, static c => AckDuration.WithLabels(c));

    public static Counter.Child EventsProducedOn(string topic) =>
        EventsProducedChildren.GetOrAdd(topic, static t => EventsProduced.WithLabels(t));

    public static readonly Gauge PublishBacklog = Metrics.CreateGauge(
        "fulfillment_connector_publish_backlog_deliveries",
        "Stored deliveries queued or in flight to Kafka.");
}
