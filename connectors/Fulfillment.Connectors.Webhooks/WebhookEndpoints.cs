using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Fulfillment.Connectors.Channels;
using Fulfillment.Schemas.Ingest;
using Microsoft.AspNetCore.Http.Features;

namespace Fulfillment.Connectors.Webhooks;

/// <summary>The HTTP receivers. Handlers take the raw request (no model binding): the body's exact bytes are what the
/// sender signed.</summary>
public static partial class WebhookEndpoints
{
    public const string ShopifyPath = "/webhooks/shopify";
    public const string WooCommercePath = "/webhooks/woocommerce/{shop}";
    public const string TikTokShopPath = "/webhooks/tiktok-shop";
    public const string AmazonPath = "/webhooks/amazon";

    public static WebApplication MapWebhookEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost(ShopifyPath, Handler<ShopifyReceiver>(app.Services));
        app.MapPost(WooCommercePath, Handler<WooCommerceReceiver>(app.Services));
        app.MapPost(TikTokShopPath, Handler<TikTokShopReceiver>(app.Services));
        app.MapPost(AmazonPath, Handler<AmazonReceiver>(app.Services));
        return app;
    }

    /// <summary>The handler with its singletons resolved once: going through <c>HttpContext.RequestServices</c> created (and
    /// disposed) a DI scope for every request.</summary>
    private static RequestDelegate Handler<TReceiver>(IServiceProvider services)
        where TReceiver : IChannelReceiver
    {
        var receiver = services.GetRequiredService<TReceiver>();
        var pipeline = services.GetRequiredService<IngestPipeline>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WebhookEndpoints));
        return context => HandleAsync(context, receiver, pipeline, logger);
    }

    private static async Task HandleAsync(HttpContext context, IChannelReceiver receiver, IngestPipeline pipeline, ILogger logger)
    {
        var started = Stopwatch.GetTimestamp();
        var receivedAt = TruncateToMillis(DateTime.UtcNow);
        var request = context.Request;
        var cancellationToken = context.RequestAborted;
        byte[] body;
        try
        {
            body = await ReadBodyAsync(request, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            ConnectorMetrics.Delivery(receiver.Source, ConnectorMetrics.Outcomes.TooLarge).Inc();
            await WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "error", "body exceeds Connectors:MaxBodyBytes", null, null);
            return;
        }

        var headers = new List<KeyValuePair<string, string>>(request.Headers.Count);
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                headers.Add(new(name, value ?? ""));
            }
        }

        var delivery = new InboundDelivery(IngestTransport.Webhook, request.Method, request.Path.Value ?? "",
            request.RouteValues.TryGetValue("shop", out var shop) ? shop as string : null,
            headers, request.ContentType, body, receivedAt);

        IngestReply reply;
        try
        {
            reply = await pipeline.IngestAsync(receiver, delivery, context.Connection.RemoteIpAddress, cancellationToken);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            // Not stored means not acknowledged: the sender's retry (or the reconciliation poll) brings it back.
            LogNotStored(logger, receiver.Source, e);
            ConnectorMetrics.Delivery(receiver.Source, ConnectorMetrics.Outcomes.StoreFailed).Inc();
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "error", "delivery could not be stored; retry", null, null);
            return;
        }

        if (reply.Outcome == IngestOutcome.RateLimited)
        {
            context.Response.Headers.RetryAfter = "60";
        }

        await (reply.StatusCode == StatusCodes.Status200OK
            ? WriteAsync(context, reply.StatusCode, "status", reply.MetricOutcome, "delivery_id", reply.DeliveryId)
            : WriteAsync(context, reply.StatusCode, "error", reply.Reason, "status", reply.MetricOutcome));
        ConnectorMetrics.AckDurationOf(receiver.Source).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var limit = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        if (request.ContentLength is { } length && limit is { } max && length > max)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }

        if (request.ContentLength is { } exact and <= int.MaxValue)
        {
            // The usual case (senders give Content-Length): read straight into the array that is stored and published.
            var body = new byte[exact];
            var read = 0;
            while (read < body.Length && await request.Body.ReadAsync(body.AsMemory(read), cancellationToken) is > 0 and var n)
            {
                read += n;
            }

            return read == body.Length ? body : throw new BadHttpRequestException("Request body shorter than Content-Length.");
        }

        using var buffer = new MemoryStream(4096);
        await request.Body.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    /// <summary>Answers with a JSON object of up to two string members, sized up front (Content-Length, no chunking).</summary>
    private static Task WriteAsync(HttpContext context, int status, string name1, string? value1, string? name2, string? value2)
    {
        // Written straight to a small buffer rather than serialising an anonymous object: this is every request's answer.
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString(name1, value1);
            if (name2 is not null)
            {
                writer.WriteString(name2, value2);
            }

            writer.WriteEndObject();
        }

        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }

    private static DateTime TruncateToMillis(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    [LoggerMessage(Level = LogLevel.Error, Message = "A {Source} delivery could not be stored and was answered 503")]
    private static partial void LogNotStored(ILogger logger, string source, Exception exception);
}
