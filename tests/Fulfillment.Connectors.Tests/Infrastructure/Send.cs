using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Fulfillment.Connectors.Tests.Infrastructure;

public sealed record Reply(HttpStatusCode Status, JsonElement Body)
{
    public string? Field(string name) => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(name, out var v) ? v.GetString() : null;
}

public static class Send
{
    /// <summary>POSTs the exact bytes with the given headers, as the vendor's sender would.</summary>
    public static async Task<Reply> PostAsync(this HttpClient http, string path, byte[] body, IEnumerable<(string Name, string Value)> headers,
        string contentType = "application/json")
    {
        ArgumentNullException.ThrowIfNull(http);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new Reply(response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public static (string, string)[] ShopifyHeaders(byte[] body, string eventId, string topic = "orders/create",
        string? hmac = null, string shop = ConnectorStack.ShopifyDomain, bool sign = true)
    {
        var headers = new List<(string, string)>
        {
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Shop-Domain", shop),
            ("X-Shopify-Event-Id", eventId),
            ("X-Shopify-Webhook-Id", Guid.NewGuid().ToString()),
            ("X-Shopify-Triggered-At", "2025-11-20T19:32:06.123456Z"),
            ("X-Shopify-API-Version", "2025-10"),
        };
        if (sign)
        {
            headers.Add(("X-Shopify-Hmac-Sha256", hmac ?? ConnectorStack.ShopifyHmac(body)));
        }

        return [.. headers];
    }

    public static (string, string)[] WooHeaders(byte[] body, string topic = "order.created", string? signature = null, bool sign = true)
    {
        var headers = new List<(string, string)>
        {
            ("X-WC-Webhook-Source", "https://shop.acme.example/"),
            ("X-WC-Webhook-Topic", topic),
            ("X-WC-Webhook-Resource", topic.Split('.')[0]),
            ("X-WC-Webhook-Event", topic.Split('.')[1]),
            ("X-WC-Webhook-ID", "12"),
            ("X-WC-Webhook-Delivery-ID", Guid.NewGuid().ToString("N")),
            ("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"),
        };
        if (sign)
        {
            headers.Add(("X-WC-Webhook-Signature", signature ?? ConnectorStack.ShopifyHmac(body, ConnectorStack.WooSecret)));
        }

        return [.. headers];
    }
}
