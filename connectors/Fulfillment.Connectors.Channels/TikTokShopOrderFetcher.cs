using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>
/// TikTok Shop Get Order Detail (<c>GET /order/202309/orders?ids=</c>, community-documented): status notifications
/// carry no lines, so the order is fetched before it is normalized. Requests are signed as the Partner API documents:
/// hex(HMAC-SHA256(app secret, secret + path + sorted query params (without sign and access_token) + body + secret)).
/// TikTok returns one line item per unit, so each becomes a line of quantity 1.
/// </summary>
public sealed class TikTokShopOrderFetcher(HttpClient http, ShopDirectory shops, TimeProvider time) : IOrderFetcher
{
    public const string Path = "/order/202309/orders";

    public Channel Channel => Channel.TikTokShop;

    public static string Sign(string appSecret, string path, IEnumerable<KeyValuePair<string, string>> query, string body)
    {
        ArgumentNullException.ThrowIfNull(appSecret);
        var message = new StringBuilder(appSecret).Append(path);
        foreach (var (key, value) in query.Where(q => q.Key is not ("sign" or "access_token")).OrderBy(q => q.Key, StringComparer.Ordinal))
        {
            message.Append(key).Append(value);
        }

        message.Append(body).Append(appSecret);
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), Encoding.UTF8.GetBytes(message.ToString())));
    }

    public async Task<ChannelOrder?> FetchAsync(DeliveryContext context, OrderFetchRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(request);
        var shop = context.Shop;
        if (shop.ApiBaseUrl is null)
        {
            // Not configured for API access: the raw notification is kept, and nothing can be normalized from it.
            return null;
        }

        var query = new List<KeyValuePair<string, string>>
        {
            new("app_key", shop.AppKey ?? ""),
            new("ids", request.ChannelOrderId),
            new("shop_cipher", shop.ShopCipher ?? ""),
            new("timestamp", time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        };
        query.Add(new("sign", Sign(Encoding.UTF8.GetString(shop.Secret), Path, query, "")));
        var uri = new Uri(shop.ApiBaseUrl, Path + "?" + string.Join('&', query.Select(q => $"{q.Key}={Uri.EscapeDataString(q.Value)}")));
        using var message = new HttpRequestMessage(HttpMethod.Get, uri);
        message.Headers.Add("x-tts-access-token", shop.ApiToken);
        using var response = await http.SendAsync(message, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
        var root = doc.RootElement;
        if (root.OptionalInt("code", "$") is { } code and not 0)
        {
            throw new HttpRequestException($"TikTok Shop API code {code}: {root.Str("message")}");
        }

        var o = root.Prop("data")?.Array("orders", "$.data", required: false).Select(x => x.Item)
            .FirstOrDefault(x => x.OptionalId("id") == request.ChannelOrderId);
        if (o is not { } order)
        {
            return null;
        }

        var created = order.OptionalInt("create_time", "$.order") is { } seconds ? DateTime.UnixEpoch.AddSeconds(seconds) : request.OccurredAt;
        var result = OrderEvents.NewOrder(context, request.ChannelOrderId, created);
        result.order_number = request.ChannelOrderId;
        result.channel_status = order.Str("status") ?? request.ChannelStatus;
        result.currency = order.Prop("payment")?.Str("currency");
        result.requested_service_code = order.Str("delivery_option_name") ?? order.Str("shipping_type");
        result.requested_service_level = OrderEvents.ServiceLevelOf(result.requested_service_code);
        if (order.Prop("recipient_address") is { ValueKind: JsonValueKind.Object } a)
        {
            result.shipping_address = new Address
            {
                name = a.Str("name"),
                line1 = a.Str("address_line1"),
                line2 = a.Str("address_line2"),
                city = a.Array("district_info", "$.recipient_address", required: false).Select(d => d.Item)
                    .FirstOrDefault(d => d.Str("address_level_name") is "City" or "city").Str("address_name"),
                region = a.Array("district_info", "$.recipient_address", required: false).Select(d => d.Item)
                    .FirstOrDefault(d => d.Str("address_level_name") is "State" or "state").Str("address_name"),
                postal_code = a.Str("postal_code"),
                country_code = a.Str("region_code")?.ToUpperInvariant(),
                phone = a.Str("phone_number"),
            };
        }

        foreach (var (item, path) in order.Array("line_items", "$.order", required: true))
        {
            if (item.Str("display_status") == "CANCELLED")
            {
                continue;
            }

            result.lines.Add(OrderEvents.Line(shops, shop, item.Id("id", path), item.Str("seller_sku"), 1, item.Decimal("sale_price", path),
                channelProductId: item.OptionalId("sku_id")));
        }

        return result;
    }
}
