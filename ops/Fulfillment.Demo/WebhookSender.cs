using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Fulfillment.Demo;

/// <summary>The connector's answer to one delivery.</summary>
/// <param name="Status">HTTP status, or 0 when the request failed before an answer (connection refused, timeout).</param>
/// <param name="Outcome">The <c>status</c> field of the JSON answer (accepted, duplicate, unauthorized, ...), or the
/// transport error.</param>
public sealed record SendResult(int Status, string Outcome, TimeSpan Elapsed)
{
    public bool Matches(WebhookDelivery delivery) =>
        delivery is not null && Status == delivery.ExpectedStatus && Outcome == delivery.ExpectedOutcome;
}

/// <summary>Posts deliveries to the webhook connector over real HTTP and counts what came back.</summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _http;

    public WebhookSender(Uri baseUrl, int maxConnections = 64)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public SendCounters Counters { get; } = new();

    public LatencyRecorder AckLatency { get; } = new();

    public async Task<SendResult> SendAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Path) { Content = new ByteArrayContent(delivery.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(delivery.ContentType);
        foreach (var (name, value) in delivery.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var started = Stopwatch.GetTimestamp();
        SendResult result;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            result = new SendResult((int)response.StatusCode, OutcomeOf(body), Stopwatch.GetElapsedTime(started));
        }
        catch (HttpRequestException e)
        {
            result = new SendResult(0, "transport: " + (e.HttpRequestError.ToString()), Stopwatch.GetElapsedTime(started));
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            result = new SendResult(0, "transport: timeout", Stopwatch.GetElapsedTime(started));
        }

        Counters.Record(delivery, result);
        if (result.Status is >= 200 and < 300)
        {
            AckLatency.Add(result.Elapsed.TotalMilliseconds);
        }

        return result;
    }

    /// <summary>The answer's <c>status</c> field; an answer without one (a 503 "retry") is named by its <c>error</c>.</summary>
    private static string OutcomeOf(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return "?";
            }

            return root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() ?? "?"
                : root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() ?? "?"
                : "?";
        }
        catch (JsonException)
        {
            return "?";
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Counts per delivery kind and per unexpected answer.</summary>
public sealed class SendCounters
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private long _sent;
    private long _acked;
    private long _unexpected;

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Answered 2xx.</summary>
    public long Acked => Interlocked.Read(ref _acked);

    /// <summary>Answers that differ from what the delivery's kind calls for.</summary>
    public long Unexpected => Interlocked.Read(ref _unexpected);

    public void Record(WebhookDelivery delivery, SendResult result)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentNullException.ThrowIfNull(result);
        Interlocked.Increment(ref _sent);
        if (result.Status is >= 200 and < 300)
        {
            Interlocked.Increment(ref _acked);
        }

        Add($"kind:{delivery.Kind}");
        if (!result.Matches(delivery))
        {
            Interlocked.Increment(ref _unexpected);
            Add(result.Status == 0 ? $"error:{result.Outcome}" : $"error:{delivery.Kind} answered {result.Status} {result.Outcome}");
        }
        else if (delivery.Kind is DeliveryKind.BadSignature or DeliveryKind.Malformed or DeliveryKind.Duplicate)
        {
            Add($"rejected-as-expected:{delivery.Kind} {result.Status}");
        }
    }

    public void Add(string key, long by = 1) => _counts.AddOrUpdate(key, by, (_, v) => v + by);

    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);
}
