using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Orders;

namespace Fulfillment.Connectors.Channels;

/// <summary>A body that parses but does not have the shape the channel documents; the message is the 400 reason.</summary>
public sealed class MalformedDeliveryException : Exception
{
    public MalformedDeliveryException()
    {
    }

    public MalformedDeliveryException(string message)
        : base(message)
    {
    }

    public MalformedDeliveryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Identity and timing of the delivery a set of normalized events comes from.</summary>
/// <param name="Source">Sender name, e.g. shopify (source_system of every event).</param>
/// <param name="DeliveryId">The sender's dedupe key.</param>
/// <param name="Shop">The shop the delivery belongs to.</param>
/// <param name="ReceivedAt">When the hub received it; the recorded_at of every event.</param>
public sealed record DeliveryContext(string Source, string DeliveryId, ChannelShop Shop, DateTime ReceivedAt)
{
    /// <summary>Event id of the raw record: the cause of every normalized event.</summary>
    public string RawEventId => RawEventIds.Accepted(Source, DeliveryId);
}

/// <summary>Deterministic ids of raw records.</summary>
public static class RawEventIds
{
    /// <summary>Accepted deliveries are unique per (source, delivery id), so that pair is the id.</summary>
    public static string Accepted(string source, string deliveryId) => $"raw:{source}:{deliveryId}";

    /// <summary>Rejected deliveries are not deduplicated; the stored row id tells them apart.</summary>
    public static string Rejected(string source, Guid rowId) => $"raw:{source}:rejected:{rowId:N}";
}

/// <summary>Builds normalized order events with full traceability metadata (ARCHITECTURE.md decision 3).</summary>
public static class OrderEvents
{
    /// <summary>Hub order id: deterministic from channel, shop and channel order id.</summary>
    public static string OrderId(string source, string shopId, string channelOrderId) => $"{source}:{shopId}:{channelOrderId}";

    public static OrderEvent Placed(DeliveryContext context, ChannelOrder order, DateTime occurredAt) =>
        Wrap(context, "placed", order.order_id, occurredAt, new OrderPlaced { order = order });

    public static OrderEvent Updated(DeliveryContext context, ChannelOrder order, DateTime occurredAt) =>
        Wrap(context, "updated", order.order_id, occurredAt, new OrderUpdated { order = order });

    public static OrderEvent Cancelled(DeliveryContext context, string channelOrderId, string? reason, DateTime occurredAt)
    {
        ArgumentNullException.ThrowIfNull(context);
        var orderId = OrderId(context.Source, context.Shop.ShopId, channelOrderId);
        return Wrap(context, "cancelled", orderId, occurredAt, new OrderCancelled
        {
            order_id = orderId,
            channel = context.Shop.Channel,
            shop_id = context.Shop.ShopId,
            channel_order_id = channelOrderId,
            reason = reason,
        });
    }

    /// <summary>A new order with the fields every channel shares; callers fill the rest.</summary>
    public static ChannelOrder NewOrder(DeliveryContext context, string channelOrderId, DateTime placedAt)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new ChannelOrder
        {
            order_id = OrderId(context.Source, context.Shop.ShopId, channelOrderId),
            channel = context.Shop.Channel,
            shop_id = context.Shop.ShopId,
            channel_order_id = channelOrderId,
            lines = [],
            placed_at = placedAt,
            requested_service_level = ServiceLevel.Unspecified,
            fulfillment_channel = FulfillmentChannel.MFN,
        };
    }

    /// <summary>A line with UnknownSku / NotShippable / GiftCard flags set from the pool's catalog and the channel's facts.</summary>
    public static OrderLine Line(ShopDirectory shops, ChannelShop shop, string lineId, string? sku, int quantity, decimal? unitPrice,
        bool requiresShipping = true, string? channelProductId = null, bool giftCard = false, bool buyerRequestedCancel = false)
    {
        ArgumentNullException.ThrowIfNull(shops);
        ArgumentNullException.ThrowIfNull(shop);
        var line = new OrderLine
        {
            line_id = lineId,
            sku = sku ?? "",
            quantity = quantity,
            unit_price = unitPrice is { } p ? Money.ToAvro(decimal.Round(p, Money.Scale)) : null,
            requires_shipping = requiresShipping,
            channel_product_id = channelProductId,
            flags = [],
        };
        if (!shops.IsKnownSku(shop.PoolId, sku))
        {
            line.flags.Add(OrderLineFlag.UnknownSku);
        }

        if (!requiresShipping)
        {
            line.flags.Add(OrderLineFlag.NotShippable);
        }

        if (giftCard)
        {
            line.flags.Add(OrderLineFlag.GiftCard);
        }

        if (buyerRequestedCancel)
        {
            line.flags.Add(OrderLineFlag.BuyerRequestedCancel);
        }

        return line;
    }

    /// <summary>Maps a channel's shipping code or title to a service level by the words merchants use.</summary>
    public static ServiceLevel ServiceLevelOf(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return ServiceLevel.Unspecified;
        }

        var t = text.ToUpperInvariant().Replace('_', ' ').Replace('-', ' ');
        return t switch
        {
            _ when t.Contains("SAME DAY", StringComparison.Ordinal) || t.Contains("SAMEDAY", StringComparison.Ordinal) => ServiceLevel.SameDay,
            _ when t.Contains("NEXT DAY", StringComparison.Ordinal) || t.Contains("NEXTDAY", StringComparison.Ordinal) || t.Contains("OVERNIGHT", StringComparison.Ordinal) => ServiceLevel.NextDay,
            _ when t.Contains("PICKUP", StringComparison.Ordinal) || t.Contains("PICK UP", StringComparison.Ordinal) || t.Contains("LOCAL PICKUP", StringComparison.Ordinal) => ServiceLevel.StorePickup,
            _ when t.Contains("EXPRESS", StringComparison.Ordinal) || t.Contains("EXPEDITED", StringComparison.Ordinal) || t.Contains("PRIORITY", StringComparison.Ordinal) || t.Contains("2 DAY", StringComparison.Ordinal) || t.Contains("SECOND", StringComparison.Ordinal) => ServiceLevel.Expedited,
            _ when t.Contains("ECONOMY", StringComparison.Ordinal) || t.Contains("SAVER", StringComparison.Ordinal) => ServiceLevel.Economy,
            _ when t.Contains("STANDARD", StringComparison.Ordinal) || t.Contains("GROUND", StringComparison.Ordinal) || t.Contains("FLAT RATE", StringComparison.Ordinal) || t.Contains("FREE", StringComparison.Ordinal) => ServiceLevel.Standard,
            _ => ServiceLevel.Unspecified,
        };
    }

    private static OrderEvent Wrap(DeliveryContext context, string kind, string orderId, DateTime occurredAt, object body)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new OrderEvent
        {
            metadata = new EventMetadata
            {
                event_id = DeterministicId($"{context.RawEventId}|order-{kind}|{orderId}"),
                pool_id = context.Shop.PoolId,
                correlation_id = orderId,
                causation_id = context.RawEventId,
                source_system = context.Source,
                source_id = context.DeliveryId,
                occurred_at = occurredAt,
                recorded_at = context.ReceivedAt,
            },
            body = body,
        };
    }

    /// <summary>A UUID-shaped id that is a pure function of its input (SHA-256, version/variant bits as in RFC 9562 v8).</summary>
    public static string DeterministicId(string input)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(input), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true).ToString();
    }
}

/// <summary>Reads documented JSON fields and turns shape errors into <see cref="MalformedDeliveryException"/> with the path.</summary>
internal static class Json
{
    public static JsonDocument Parse(ReadOnlyMemory<byte> body)
    {
        try
        {
            var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new MalformedDeliveryException($"body is JSON {doc.RootElement.ValueKind}, expected an object");
            }

            return doc;
        }
        catch (JsonException e)
        {
            throw new MalformedDeliveryException($"body is not valid JSON: {e.Message}", e);
        }
    }

    public static JsonElement? Prop(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement Required(this JsonElement e, string name, string path) =>
        e.Prop(name) ?? throw new MalformedDeliveryException($"{path}.{name} is missing");

    public static JsonElement RequiredObject(this JsonElement e, string name, string path)
    {
        var v = e.Required(name, path);
        return v.ValueKind == JsonValueKind.Object ? v : throw new MalformedDeliveryException($"{path}.{name} must be an object");
    }

    public static IEnumerable<(JsonElement Item, string Path)> Array(this JsonElement e, string name, string path, bool required)
    {
        var v = e.Prop(name);
        if (v is null)
        {
            return required ? throw new MalformedDeliveryException($"{path}.{name} is missing") : [];
        }

        if (v.Value.ValueKind != JsonValueKind.Array)
        {
            throw new MalformedDeliveryException($"{path}.{name} must be an array");
        }

        return v.Value.EnumerateArray().Select((item, i) => (item, $"{path}.{name}[{i}]")).ToList();
    }

    /// <summary>An id that channels send as a number or a string; returned as its text.</summary>
    public static string Id(this JsonElement e, string name, string path)
    {
        var v = e.Required(name, path);
        return v.ValueKind switch
        {
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.String when v.GetString() is { Length: > 0 } s => s,
            _ => throw new MalformedDeliveryException($"{path}.{name} must be a number or a non-empty string"),
        };
    }

    public static string? OptionalId(this JsonElement e, string name) =>
        e.Prop(name) is { } v ? v.ValueKind switch
        {
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.String => v.GetString(),
            _ => null,
        } : null;

    public static string? Str(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.String } v && v.GetString() is { Length: > 0 } s ? s : null;

    public static int Int(this JsonElement e, string name, string path)
    {
        var v = e.Required(name, path);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n))
        {
            return n;
        }

        if (v.ValueKind == JsonValueKind.String && int.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out n))
        {
            return n;
        }

        throw new MalformedDeliveryException($"{path}.{name} must be an integer");
    }

    public static int? OptionalInt(this JsonElement e, string name, string path) => e.Prop(name) is null ? null : e.Int(name, path);

    public static bool Bool(this JsonElement e, string name, bool fallback) =>
        e.Prop(name) is { } v && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    /// <summary>Money sent as a JSON string ("19.99") or number, read from its text so no binary float rounding creeps in.</summary>
    public static decimal? Decimal(this JsonElement e, string name, string path)
    {
        if (e.Prop(name) is not { } v)
        {
            return null;
        }

        var text = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        };
        return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            ? d
            : throw new MalformedDeliveryException($"{path}.{name} must be a decimal number");
    }

    public static double? Double(this JsonElement e, string name) =>
        e.Prop(name) is { } v && (v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : (double?)null) is { } x ? x : null;

    /// <summary>A timestamp: ISO 8601 with offset, or without (then UTC, as WooCommerce's *_gmt fields are).</summary>
    public static DateTime? Time(this JsonElement e, string name, string path)
    {
        if (e.Str(name) is not { } text)
        {
            return null;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t.UtcDateTime
            : throw new MalformedDeliveryException($"{path}.{name} is not a timestamp: '{text}'");
    }

    public static DateTime RequiredTime(this JsonElement e, string name, string path) =>
        e.Time(name, path) ?? throw new MalformedDeliveryException($"{path}.{name} is missing");
}
