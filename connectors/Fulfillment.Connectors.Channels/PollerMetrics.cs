using System.Collections.Concurrent;
using System.Globalization;
using Fulfillment.Schemas.Common;
using Prometheus;

namespace Fulfillment.Connectors.Channels;

/// <summary>
/// Metrics of the channel pollers (Amazon getOrders, WooCommerce reconciliation, eBay getOrders), named like the
/// webhook connector's (<c>fulfillment_connector_*</c>, label <c>channel</c> = the receiver's source name). Labels are
/// bounded by configuration: channels and configured shops. The poll loop reports each poll, the checkpoint store each
/// checkpoint it moves.
/// </summary>
public static class PollerMetrics
{
    public static readonly Counter Polls = Metrics.CreateCounter(
        "fulfillment_connector_polls_total", "Channel polls by channel and outcome (ok, failed).",
        new CounterConfiguration { LabelNames = ["channel", "outcome"] });

    public static readonly Counter OrdersFetched = Metrics.CreateCounter(
        "fulfillment_connector_polled_orders_total", "Orders fetched by polls (each goes through the raw-first pipeline; repeats end as duplicates).",
        new CounterConfiguration { LabelNames = ["channel"] });

    public static readonly Counter Errors = Metrics.CreateCounter(
        "fulfillment_connector_poll_errors_total", "Polls that failed, by channel and error (http, json, postgres, timeout, other); the checkpoint stays and the next poll retries.",
        new CounterConfiguration { LabelNames = ["channel", "error"] });

    public static readonly Histogram PollDuration = Metrics.CreateHistogram(
        "fulfillment_connector_poll_duration_seconds", "Time one poll of one shop took (paging and rate-limit waits included).",
        new HistogramConfiguration { LabelNames = ["channel"], Buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] });

    public static readonly Gauge CheckpointAge = Metrics.CreateGauge(
        "fulfillment_connector_poll_checkpoint_age_seconds",
        "Wall-clock age of a shop's poll checkpoint (the channel time the next poll starts from): grows when polls fail or fall behind.",
        new GaugeConfiguration { LabelNames = ["channel", "shop"] });

    private static readonly ConcurrentDictionary<(string Channel, string Shop), DateTimeOffset> Checkpoints = new();

    static PollerMetrics() =>
        // Ages are computed when scraped, so a stalled poller shows a growing age rather than its last value.
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() => RefreshAges(DateTimeOffset.UtcNow));

    /// <summary>The source name a channel's receiver uses (the <c>channel</c> label value).</summary>
    public static string SourceOf(Channel channel) => channel switch
    {
        Channel.Shopify => ShopifyReceiver.SourceName,
        Channel.WooCommerce => WooCommerceReceiver.SourceName,
        Channel.Amazon => AmazonReceiver.SourceName,
        Channel.Ebay => EbayReceiver.SourceName,
        Channel.TikTokShop => TikTokShopReceiver.SourceName,
        _ => channel.ToString().ToLowerInvariant(),
    };

    /// <summary>A poll of one shop finished and fetched <paramref name="orders"/> orders.</summary>
    public static void Polled(Channel channel, int orders, TimeSpan took)
    {
        var source = SourceOf(channel);
        Polls.WithLabels(source, "ok").Inc();
        OrdersFetched.WithLabels(source).Inc(orders);
        PollDuration.WithLabels(source).Observe(took.TotalSeconds);
    }

    /// <summary>A poll of one shop failed with <paramref name="error"/>.</summary>
    public static void Failed(Channel channel, Exception error, TimeSpan took)
    {
        ArgumentNullException.ThrowIfNull(error);
        var source = SourceOf(channel);
        Polls.WithLabels(source, "failed").Inc();
        Errors.WithLabels(source, ErrorKind(error)).Inc();
        PollDuration.WithLabels(source).Observe(took.TotalSeconds);
    }

    /// <summary>A shop's checkpoint moved to <paramref name="cursor"/> (the channel time the next poll starts from, as
    /// the checkpoint store keeps it); cursors that are not a time are ignored.</summary>
    public static void CheckpointSaved(string source, string shop, string cursor)
    {
        if (DateTimeOffset.TryParse(cursor, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            Checkpoints[(source, shop)] = at;
            RefreshAges(DateTimeOffset.UtcNow);
        }
    }

    /// <summary>Sets every known checkpoint's age as of <paramref name="now"/>.</summary>
    public static void RefreshAges(DateTimeOffset now)
    {
        foreach (var ((source, shop), at) in Checkpoints)
        {
            CheckpointAge.WithLabels(source, shop).Set(Math.Max(0, (now - at).TotalSeconds));
        }
    }

    private static string ErrorKind(Exception e) => e.GetType().Name switch
    {
        "HttpRequestException" => "http",
        "JsonException" => "json",
        "NpgsqlException" or "PostgresException" => "postgres",
        "TimeoutException" or "TaskCanceledException" => "timeout",
        _ => "other",
    };
}
