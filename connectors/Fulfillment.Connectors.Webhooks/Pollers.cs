using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Ingest;
using Npgsql;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>Poll cursors in Postgres (<c>poll_checkpoints</c>).</summary>
public sealed class PollCheckpoints(NpgsqlDataSource dataSource)
{
    public async Task<string?> GetAsync(string source, string shopId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT cursor FROM poll_checkpoints WHERE source = @s AND shop_id = @shop");
        command.Parameters.AddWithValue("s", source);
        command.Parameters.AddWithValue("shop", shopId);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SetAsync(string source, string shopId, string cursor, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO poll_checkpoints (source, shop_id, cursor) VALUES (@s, @shop, @c)
            ON CONFLICT (source, shop_id) DO UPDATE SET cursor = excluded.cursor, updated_at = now()
            """);
        command.Parameters.AddWithValue("s", source);
        command.Parameters.AddWithValue("shop", shopId);
        command.Parameters.AddWithValue("c", cursor);
        await command.ExecuteNonQueryAsync(cancellationToken);
        PollerMetrics.CheckpointSaved(source, shopId, cursor);
    }
}

/// <summary>A channel poll for one shop: fetches what changed since the checkpoint, feeds each order through the same
/// pipeline as webhooks (raw first, dedupe, normalize), then moves the checkpoint.</summary>
public interface IOrderPoller
{
    Channel Channel { get; }

    /// <summary>Polls once; returns how many orders were fetched.</summary>
    Task<int> PollAsync(ChannelShop shop, CancellationToken cancellationToken);
}

/// <summary>
/// SP-API getOrders by LastUpdatedAfter with NextToken paging, within its documented limit (0.0167 req/s, burst 20),
/// plus getOrderItems (0.5 req/s, burst 30) per order. Dedupe key order id + LastUpdateDate, so orders the ORDER_CHANGE
/// notifications already brought, or a page fetched twice, are recognised.
/// </summary>
public sealed class AmazonOrdersPoller(HttpClient http, IngestPipeline pipeline, AmazonReceiver receiver, PollCheckpoints checkpoints, TimeProvider time)
    : IOrderPoller
{
    private readonly Dictionary<string, (TokenBucket Orders, TokenBucket Items)> _buckets = [];

    /// <summary>How far back the first poll of a shop reaches.</summary>
    public TimeSpan InitialLookback { get; init; } = TimeSpan.FromDays(1);

    public Channel Channel => Channel.Amazon;

    public async Task<int> PollAsync(ChannelShop shop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        if (!_buckets.TryGetValue(shop.ShopId, out var buckets))
        {
            _buckets[shop.ShopId] = buckets = (new TokenBucket(0.0167, 20, time), new TokenBucket(0.5, 30, time));
        }

        var after = await checkpoints.GetAsync(AmazonReceiver.SourceName, shop.ShopId, cancellationToken)
            ?? (time.GetUtcNow() - InitialLookback).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var marketplaces = string.Join(',', shop.MarketplaceIds);
        string? nextToken = null;
        string? until = null;
        var count = 0;
        do
        {
            await buckets.Orders.TakeAsync(cancellationToken);
            var query = nextToken is null
                ? $"MarketplaceIds={Uri.EscapeDataString(marketplaces)}&LastUpdatedAfter={Uri.EscapeDataString(after)}"
                : $"MarketplaceIds={Uri.EscapeDataString(marketplaces)}&NextToken={Uri.EscapeDataString(nextToken)}";
            var page = await GetAsync(shop, $"/orders/v0/orders?{query}", buckets.Orders, cancellationToken);
            if (page is null)
            {
                return count;
            }

            until ??= (string?)page["LastUpdatedBefore"];
            foreach (var order in page["Orders"]?.AsArray() ?? [])
            {
                var id = (string)order!["AmazonOrderId"]!;
                await buckets.Items.TakeAsync(cancellationToken);
                var items = await GetAsync(shop, $"/orders/v0/orders/{Uri.EscapeDataString(id)}/orderItems", buckets.Items, cancellationToken);
                if (items is null)
                {
                    // Throttled: the checkpoint stays, the next poll starts over (dedupe absorbs the repeat).
                    return count;
                }

                var body = new JsonObject { ["SellerId"] = shop.ShopId, ["Order"] = order.DeepClone(), ["OrderItems"] = items["OrderItems"]?.DeepClone() };
                await IngestAsync(body, $"/orders/v0/orders/{id}", cancellationToken);
                count++;
                if (until is null && (string?)order["LastUpdateDate"] is { } updated && string.CompareOrdinal(updated, after) > 0)
                {
                    after = updated;
                }
            }

            nextToken = (string?)page["NextToken"];
        }
        while (nextToken is not null);

        await checkpoints.SetAsync(AmazonReceiver.SourceName, shop.ShopId, until ?? after, cancellationToken);
        return count;
    }

    private async Task IngestAsync(JsonObject body, string path, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var delivery = new InboundDelivery(IngestTransport.Poll, "GET", path, null, [], "application/json",
            Encoding.UTF8.GetBytes(body.ToJsonString()), new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc));
        await pipeline.IngestAsync(receiver, delivery, cancellationToken);
    }

    private async Task<JsonNode?> GetAsync(ChannelShop shop, string pathAndQuery, TokenBucket bucket, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(shop.ApiBaseUrl!, pathAndQuery));
        request.Headers.Add("x-amz-access-token", shop.ApiToken);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            bucket.Drain();
            return null;
        }

        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["payload"];
    }
}

/// <summary>
/// WooCommerce never retries a failed webhook: this poll lists orders modified since the checkpoint and feeds them
/// through the WooCommerce receiver. The dedupe key (id + date_modified_gmt) is the webhook's, so states the webhooks
/// delivered are recognised as duplicates and only the missed ones are normalized.
/// </summary>
public sealed class WooCommerceReconciliationPoller(HttpClient http, IngestPipeline pipeline, WooCommerceReceiver receiver, PollCheckpoints checkpoints, TimeProvider time)
    : IOrderPoller
{
    private const int PageSize = 50;

    public TimeSpan InitialLookback { get; init; } = TimeSpan.FromDays(1);

    public Channel Channel => Channel.WooCommerce;

    public async Task<int> PollAsync(ChannelShop shop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        var after = await checkpoints.GetAsync(WooCommerceReceiver.SourceName, shop.ShopId, cancellationToken)
            ?? (time.GetUtcNow() - InitialLookback).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        var newest = after;
        var count = 0;
        for (var page = 1; ; page++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(shop.ApiBaseUrl!,
                $"/wp-json/wc/v3/orders?modified_after={Uri.EscapeDataString(after)}&dates_are_gmt=true&orderby=modified&order=asc&per_page={PageSize}&page={page}"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(shop.ApiToken ?? "")));
            using var response = await http.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            var orders = doc.RootElement.EnumerateArray().ToList();
            foreach (var order in orders)
            {
                var created = order.TryGetProperty("date_created_gmt", out var c) ? c.GetString() : null;
                var modified = order.TryGetProperty("date_modified_gmt", out var m) ? m.GetString() : null;
                var now = time.GetUtcNow().UtcDateTime;
                var delivery = new InboundDelivery(IngestTransport.Poll, "GET", $"/wp-json/wc/v3/orders/{order.GetProperty("id").GetRawText()}", shop.ShopId,
                    [new("X-WC-Webhook-Topic", created == modified ? "order.created" : "order.updated")], "application/json",
                    Encoding.UTF8.GetBytes(order.GetRawText()), new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc));
                await pipeline.IngestAsync(receiver, delivery, cancellationToken);
                count++;
                if (modified is not null && string.CompareOrdinal(modified, newest) > 0)
                {
                    newest = modified;
                }
            }

            if (orders.Count < PageSize)
            {
                break;
            }
        }

        await checkpoints.SetAsync(WooCommerceReceiver.SourceName, shop.ShopId, newest, cancellationToken);
        return count;
    }
}

/// <summary>
/// eBay Fulfillment API getOrders by <c>lastmodifieddate</c> (<c>GET /sell/fulfillment/v1/order?filter=lastmodifieddate:[from..]</c>),
/// paging by following <c>next</c> (offset/limit). Orders come back by creation date, not modification date, so the
/// checkpoint is not the newest modification seen but the time the poll started less <see cref="Overlap"/>: an order
/// modified while the pages were read is fetched again next time, and the dedupe key (orderId + lastModifiedDate) turns
/// every repeat into a duplicate. The checkpoint only moves once every page was read.
/// </summary>
public sealed class EbayOrdersPoller(HttpClient http, IngestPipeline pipeline, EbayReceiver receiver, PollCheckpoints checkpoints, TimeProvider time)
    : IOrderPoller
{
    /// <summary>Orders per page (eBay allows up to 200).</summary>
    public int PageSize { get; init; } = 50;

    public TimeSpan InitialLookback { get; init; } = TimeSpan.FromDays(1);

    /// <summary>How far before the poll's start the next poll begins (clock skew, eBay's indexing delay, in-flight changes).</summary>
    public TimeSpan Overlap { get; init; } = TimeSpan.FromMinutes(2);

    public Channel Channel => Channel.Ebay;

    public async Task<int> PollAsync(ChannelShop shop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shop);
        var started = time.GetUtcNow().UtcDateTime;
        var from = await checkpoints.GetAsync(EbayReceiver.SourceName, shop.ShopId, cancellationToken) ?? Format(started - InitialLookback);
        var next = new Uri(shop.ApiBaseUrl!,
            $"/sell/fulfillment/v1/order?filter={Uri.EscapeDataString($"lastmodifieddate:[{from}..]")}&limit={PageSize}&offset=0");
        var count = 0;
        while (next is not null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, next);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", shop.ApiToken);
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                // Over the call limit: the checkpoint stays and the next poll starts over (dedupe absorbs the repeat).
                return count;
            }

            response.EnsureSuccessStatusCode();
            using var page = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            var orders = page.RootElement.TryGetProperty("orders", out var o) && o.ValueKind == JsonValueKind.Array ? o.EnumerateArray().ToList() : [];
            foreach (var order in orders)
            {
                var orderId = order.TryGetProperty("orderId", out var id) ? id.GetString() : null;
                var now = time.GetUtcNow().UtcDateTime;
                // The order object exactly as eBay sent it is the raw delivery.
                var delivery = new InboundDelivery(IngestTransport.Poll, "GET", $"/sell/fulfillment/v1/order/{orderId}", shop.ShopId, [], "application/json",
                    Encoding.UTF8.GetBytes(order.GetRawText()), new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc));
                await pipeline.IngestAsync(receiver, delivery, cancellationToken);
                count++;
            }

            // eBay gives the next page as an absolute href; an empty page ends it too, whatever next says.
            next = orders.Count > 0 && page.RootElement.TryGetProperty("next", out var n) && n.GetString() is { Length: > 0 } href
                ? NextPage(shop.ApiBaseUrl!, href)
                : null;
        }

        var checkpoint = Format(started - Overlap);
        if (string.CompareOrdinal(checkpoint, from) > 0)
        {
            await checkpoints.SetAsync(EbayReceiver.SourceName, shop.ShopId, checkpoint, cancellationToken);
        }

        return count;
    }

    /// <summary>The next page on the configured API host (eBay's href names its public host; a sandbox or stub is elsewhere).</summary>
    private static Uri NextPage(Uri apiBase, string href) =>
        new(apiBase, !href.StartsWith('/') && Uri.TryCreate(href, UriKind.Absolute, out var absolute) ? absolute.PathAndQuery : href);

    /// <summary>eBay's filter format: ISO 8601 UTC with milliseconds (2016-03-21T08:25:43.511Z).</summary>
    private static string Format(DateTime t) => t.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}

/// <summary>Runs every configured poller for every shop that has an <c>ApiBaseUrl</c>, every <see cref="ConnectorOptions.PollInterval"/>.</summary>
public sealed partial class PollerService(
    IEnumerable<IOrderPoller> pollers, ShopDirectory shops, Microsoft.Extensions.Options.IOptions<ConnectorOptions> options, TimeProvider time, ILogger<PollerService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        do
        {
            foreach (var poller in pollers)
            {
                foreach (var shop in shops.ShopsOf(poller.Channel).Where(s => s.ApiBaseUrl is not null))
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        var orders = await poller.PollAsync(shop, stoppingToken);
                        PollerMetrics.Polled(poller.Channel, orders, Stopwatch.GetElapsedTime(started));
                    }
                    catch (Exception e) when (e is HttpRequestException or JsonException or NpgsqlException or TimeoutException or InvalidOperationException)
                    {
                        PollerMetrics.Failed(poller.Channel, e, Stopwatch.GetElapsedTime(started));
                        LogPollFailed(logger, poller.Channel, shop.ShopId, e);
                    }
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Channel} poll of shop {Shop} failed; the checkpoint stays and the next poll retries")]
    private static partial void LogPollFailed(ILogger logger, Channel channel, string shop, Exception exception);
}
