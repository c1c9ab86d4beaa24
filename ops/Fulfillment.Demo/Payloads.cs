using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Fulfillment.Demo;

/// <summary>What a delivery is meant to exercise; the expected answer follows from it.</summary>
public enum DeliveryKind
{
    /// <summary>A new order (Shopify orders/create, WooCommerce order.created, TikTok AWAITING_SHIPMENT, Amazon NewOrder).</summary>
    Order,
    /// <summary>A cancellation of an order sent before.</summary>
    Cancel,
    /// <summary>The same delivery again, byte for byte (a sender retry): 200, counted once.</summary>
    Duplicate,
    /// <summary>Signed with the wrong secret: 401.</summary>
    BadSignature,
    /// <summary>Correctly signed, but the body is not the channel's shape: 400.</summary>
    Malformed,
}

/// <summary>One HTTP delivery to the webhook connector, exactly as the channel would send it.</summary>
/// <param name="Path">Request path on the connector (e.g. <c>/webhooks/shopify</c>).</param>
/// <param name="Headers">Request headers, signature included (Content-Type travels with the body).</param>
/// <param name="Body">The body bytes the signature covers.</param>
/// <param name="HubOrderId">The hub order the delivery is about, when it is about one.</param>
public sealed record WebhookDelivery(
    DeliveryKind Kind, ChannelKind Channel, string Path, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body,
    string? HubOrderId)
{
    /// <summary>The HTTP status the connector must answer.</summary>
    public int ExpectedStatus => Kind switch
    {
        DeliveryKind.BadSignature => 401,
        DeliveryKind.Malformed => 400,
        _ => 200,
    };

    /// <summary>The <c>status</c> field of the connector's JSON answer.</summary>
    public string ExpectedOutcome => Kind switch
    {
        DeliveryKind.BadSignature => "unauthorized",
        DeliveryKind.Malformed => "malformed",
        DeliveryKind.Duplicate => "duplicate",
        _ => "accepted",
    };

    public string ContentType => "application/json";

    public WebhookDelivery AsDuplicate() => this with { Kind = DeliveryKind.Duplicate };
}

/// <summary>
/// Renders orders as each channel's own webhook (facts/wire-formats.md) and signs them the way the channel does:
/// Shopify and WooCommerce base64(HMAC-SHA256(secret, body)); TikTok Shop hex(HMAC-SHA256(app secret, app key + body))
/// in <c>Authorization</c>; Amazon ORDER_CHANGE relayed from SQS with the relay's key in <c>x-api-key</c>.
/// </summary>
public static class Payloads
{
    public const string ShopifyPath = "/webhooks/shopify";
    public const string TikTokShopPath = "/webhooks/tiktok-shop";
    public const string AmazonPath = "/webhooks/amazon";

    public static string WooCommercePath(string shop) => $"/webhooks/woocommerce/{Uri.EscapeDataString(shop)}";

    /// <summary>The webhook announcing a new order.</summary>
    public static WebhookDelivery Create(DemoOrder order)
    {
        ArgumentNullException.ThrowIfNull(order);
        return order.Shop.Channel switch
        {
            ChannelKind.Shopify => Shopify(order, "orders/create", cancelledAt: null),
            ChannelKind.WooCommerce => WooCommerce(order, "order.created", "processing", order.CreatedAt),
            ChannelKind.TikTokShop => TikTokShop(order, "AWAITING_SHIPMENT", order.CreatedAt),
            ChannelKind.Amazon => Amazon(order, "Unshipped", "NewOrder", order.CreatedAt),
            _ => throw new ArgumentException($"{order.Shop.Channel} has no webhooks (the connector polls it)", nameof(order)),
        };
    }

    /// <summary>The webhook announcing the order's cancellation at <paramref name="at"/> (later than its creation).</summary>
    public static WebhookDelivery Cancel(DemoOrder order, DateTime at)
    {
        ArgumentNullException.ThrowIfNull(order);
        // WooCommerce names a state by id + date_modified_gmt (whole seconds): a cancellation in the same second as the
        // creation would be taken for a repeat of it.
        at = at < order.CreatedAt.AddSeconds(1) ? order.CreatedAt.AddSeconds(1) : at;
        var delivery = order.Shop.Channel switch
        {
            ChannelKind.Shopify => Shopify(order, "orders/cancelled", cancelledAt: at),
            ChannelKind.WooCommerce => WooCommerce(order, "order.updated", "cancelled", at),
            ChannelKind.TikTokShop => TikTokShop(order, "CANCELLED", at),
            ChannelKind.Amazon => Amazon(order, "Canceled", "BuyerCancelled", at),
            _ => throw new ArgumentException($"{order.Shop.Channel} has no webhooks (the connector polls it)", nameof(order)),
        };
        return delivery with { Kind = DeliveryKind.Cancel };
    }

    /// <summary>The same delivery with a signature made with a wrong secret (or a wrong relay key for Amazon).</summary>
    public static WebhookDelivery WithBadSignature(WebhookDelivery delivery)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var (header, value) = delivery.Channel switch
        {
            ChannelKind.Shopify => ("X-Shopify-Hmac-Sha256", Base64Hmac("not-the-shop-secret", delivery.Body)),
            ChannelKind.WooCommerce => ("X-WC-Webhook-Signature", Base64Hmac("not-the-shop-secret", delivery.Body)),
            ChannelKind.TikTokShop => ("Authorization", Convert.ToHexStringLower(HMACSHA256.HashData("not-the-app-secret"u8, delivery.Body))),
            _ => ("x-api-key", "not-the-relay-key"),
        };
        return delivery with
        {
            Kind = DeliveryKind.BadSignature,
            Headers = [.. delivery.Headers.Select(h => string.Equals(h.Key, header, StringComparison.OrdinalIgnoreCase) ? new(h.Key, value) : h)],
        };
    }

    /// <summary>A correctly signed delivery whose body is cut off mid-document (a proxy that truncated it, a sender bug).</summary>
    public static WebhookDelivery Malformed(DemoOrder order)
    {
        var valid = Create(order);
        var body = valid.Body.AsSpan(0, valid.Body.Length / 2).ToArray();
        var signed = Sign(order.Shop, valid.Channel, body);
        return valid with
        {
            Kind = DeliveryKind.Malformed,
            Body = body,
            HubOrderId = null,
            Headers = [.. valid.Headers.Select(h => signed.TryGetValue(h.Key, out var v) ? new KeyValuePair<string, string>(h.Key, v) : h)],
        };
    }

    /// <summary>TikTok Shop's Get Order Detail response for the order (what the connector fetches after a notification).</summary>
    public static JsonObject TikTokOrderDetail(DemoOrder order, string status)
    {
        ArgumentNullException.ThrowIfNull(order);
        var a = order.ShipTo;
        var items = new JsonArray();
        foreach (var line in order.HubLines)
        {
            items.Add(new JsonObject
            {
                ["id"] = line.LineId,
                ["sku_id"] = line.VariantId,
                ["seller_sku"] = line.Sku,
                ["product_name"] = $"Demo {line.Sku}",
                ["sale_price"] = Money(line.Price),
                ["currency"] = "USD",
                ["display_status"] = status,
            });
        }

        return new JsonObject
        {
            ["code"] = 0,
            ["message"] = "Success",
            ["request_id"] = $"demo{order.Number}",
            ["data"] = new JsonObject
            {
                ["orders"] = new JsonArray(new JsonObject
                {
                    ["id"] = order.ChannelOrderId,
                    ["status"] = status,
                    ["create_time"] = Unix(order.CreatedAt),
                    ["update_time"] = Unix(order.CreatedAt),
                    ["payment"] = new JsonObject { ["currency"] = "USD" },
                    ["delivery_option_name"] = order.ShippingTitle,
                    ["shipping_type"] = "TIKTOK",
                    ["recipient_address"] = new JsonObject
                    {
                        ["name"] = $"{a.FirstName} {a.LastName}",
                        ["address_line1"] = a.Line1,
                        ["postal_code"] = a.PostalCode,
                        ["region_code"] = a.CountryCode,
                        ["phone_number"] = "(+1)555-0100",
                        ["district_info"] = new JsonArray(
                            new JsonObject { ["address_level_name"] = "State", ["address_name"] = a.Region },
                            new JsonObject { ["address_level_name"] = "City", ["address_name"] = a.City }),
                    },
                    ["line_items"] = items,
                }),
            },
        };
    }

    private static WebhookDelivery Shopify(DemoOrder order, string topic, DateTime? cancelledAt)
    {
        var a = order.ShipTo;
        var lines = new JsonArray();
        foreach (var l in order.Lines)
        {
            lines.Add(new JsonObject
            {
                ["id"] = long.Parse(l.LineId, CultureInfo.InvariantCulture),
                ["admin_graphql_api_id"] = $"gid://shopify/LineItem/{l.LineId}",
                ["variant_id"] = long.Parse(l.VariantId, CultureInfo.InvariantCulture),
                ["product_id"] = long.Parse(l.VariantId, CultureInfo.InvariantCulture) - 1_000_000_000L,
                ["title"] = $"Demo {l.Sku}",
                ["sku"] = l.Sku,
                ["quantity"] = l.Quantity,
                ["current_quantity"] = l.Quantity,
                ["fulfillable_quantity"] = cancelledAt is null ? l.Quantity : 0,
                ["fulfillment_service"] = "manual",
                ["fulfillment_status"] = null,
                ["requires_shipping"] = true,
                ["gift_card"] = false,
                ["grams"] = 450,
                ["price"] = Money(l.Price),
                ["properties"] = new JsonArray(),
            });
        }

        var updated = cancelledAt ?? order.CreatedAt;
        var body = new JsonObject
        {
            ["id"] = order.Number,
            ["admin_graphql_api_id"] = $"gid://shopify/Order/{order.Number}",
            ["name"] = $"#{order.Number % 1_000_000}",
            ["order_number"] = order.Number % 1_000_000,
            ["email"] = $"{a.FirstName.ToLowerInvariant()}@example.com",
            ["created_at"] = Iso(order.CreatedAt),
            ["updated_at"] = Iso(updated),
            ["processed_at"] = Iso(order.CreatedAt),
            ["currency"] = "USD",
            ["financial_status"] = cancelledAt is null ? "paid" : "refunded",
            ["fulfillment_status"] = null,
            ["cancelled_at"] = cancelledAt is { } c ? Iso(c) : null,
            ["cancel_reason"] = cancelledAt is null ? null : "customer",
            ["source_name"] = "web",
            ["total_price"] = Money(order.Lines.Sum(l => l.Price * l.Quantity)),
            ["line_items"] = lines,
            ["shipping_lines"] = new JsonArray(new JsonObject
            {
                ["code"] = order.ShippingTitle, ["title"] = order.ShippingTitle, ["price"] = "5.00", ["source"] = "shopify",
            }),
            ["shipping_address"] = new JsonObject
            {
                ["first_name"] = a.FirstName, ["last_name"] = a.LastName, ["address1"] = a.Line1, ["city"] = a.City,
                ["province_code"] = a.Region, ["zip"] = a.PostalCode, ["country_code"] = a.CountryCode,
                ["latitude"] = a.Latitude, ["longitude"] = a.Longitude,
            },
            ["fulfillments"] = new JsonArray(),
        };
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        var headers = new List<KeyValuePair<string, string>>
        {
            new("X-Shopify-Topic", topic),
            new("X-Shopify-Shop-Domain", order.Shop.ShopId),
            new("X-Shopify-API-Version", "2025-10"),
            new("X-Shopify-Webhook-Id", Guid.NewGuid().ToString()),
            new("X-Shopify-Event-Id", Guid.NewGuid().ToString()),
            new("X-Shopify-Triggered-At", Iso(updated)),
        };
        headers.AddRange(Sign(order.Shop, ChannelKind.Shopify, bytes));
        return new WebhookDelivery(DeliveryKind.Order, ChannelKind.Shopify, ShopifyPath, headers, bytes, order.HubOrderId);
    }

    private static WebhookDelivery WooCommerce(DemoOrder order, string topic, string status, DateTime modified)
    {
        var a = order.ShipTo;
        var lines = new JsonArray();
        foreach (var l in order.Lines)
        {
            lines.Add(new JsonObject
            {
                ["id"] = long.Parse(l.LineId, CultureInfo.InvariantCulture),
                ["name"] = $"Demo {l.Sku}",
                ["product_id"] = long.Parse(l.VariantId, CultureInfo.InvariantCulture) % 1_000_000,
                ["variation_id"] = 0,
                ["quantity"] = l.Quantity,
                ["tax_class"] = "",
                ["subtotal"] = Money(l.Price * l.Quantity),
                ["total"] = Money(l.Price * l.Quantity),
                ["sku"] = l.Sku,
                ["price"] = (double)l.Price,
                ["meta_data"] = new JsonArray(),
            });
        }

        var body = new JsonObject
        {
            ["id"] = order.Number,
            ["parent_id"] = 0,
            ["number"] = order.Number.ToString(CultureInfo.InvariantCulture),
            ["order_key"] = $"wc_order_{order.Number:x}",
            ["created_via"] = "checkout",
            ["version"] = "9.4.2",
            ["status"] = status,
            ["currency"] = "USD",
            ["date_created_gmt"] = WooTime(order.CreatedAt),
            ["date_modified_gmt"] = WooTime(modified),
            ["date_paid_gmt"] = WooTime(order.CreatedAt),
            ["total"] = Money(order.Lines.Sum(l => l.Price * l.Quantity) + 5m),
            ["customer_id"] = 0,
            ["billing"] = new JsonObject
            {
                ["first_name"] = a.FirstName, ["last_name"] = a.LastName, ["address_1"] = a.Line1, ["city"] = a.City,
                ["state"] = a.Region, ["postcode"] = a.PostalCode, ["country"] = a.CountryCode,
                ["email"] = $"{a.FirstName.ToLowerInvariant()}@example.com",
            },
            ["shipping"] = new JsonObject
            {
                ["first_name"] = a.FirstName, ["last_name"] = a.LastName, ["company"] = "", ["address_1"] = a.Line1,
                ["address_2"] = "", ["city"] = a.City, ["state"] = a.Region, ["postcode"] = a.PostalCode, ["country"] = a.CountryCode,
            },
            ["payment_method"] = "stripe",
            ["line_items"] = lines,
            ["shipping_lines"] = new JsonArray(new JsonObject
            {
                ["id"] = order.Number % 1_000_000, ["method_title"] = order.ShippingTitle, ["method_id"] = "flat_rate", ["total"] = "5.00",
            }),
            ["refunds"] = new JsonArray(),
            ["meta_data"] = new JsonArray(),
        };
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        var dot = topic.IndexOf('.', StringComparison.Ordinal);
        var headers = new List<KeyValuePair<string, string>>
        {
            new("X-WC-Webhook-Source", $"https://{order.Shop.ShopId}.example/"),
            new("X-WC-Webhook-Topic", topic),
            new("X-WC-Webhook-Resource", topic[..dot]),
            new("X-WC-Webhook-Event", topic[(dot + 1)..]),
            new("X-WC-Webhook-ID", "17"),
            new("X-WC-Webhook-Delivery-ID", Guid.NewGuid().ToString("N")),
        };
        headers.AddRange(Sign(order.Shop, ChannelKind.WooCommerce, bytes));
        return new WebhookDelivery(DeliveryKind.Order, ChannelKind.WooCommerce, WooCommercePath(order.Shop.ShopId), headers, bytes, order.HubOrderId);
    }

    private static WebhookDelivery TikTokShop(DemoOrder order, string status, DateTime at)
    {
        var body = new JsonObject
        {
            ["type"] = 1,
            ["tts_notification_id"] = $"7{order.Number:D17}{(status == "CANCELLED" ? 2 : 1)}",
            ["shop_id"] = order.Shop.ShopId,
            ["timestamp"] = Unix(at),
            ["data"] = new JsonObject
            {
                ["order_id"] = order.ChannelOrderId,
                ["order_status"] = status,
                ["update_time"] = Unix(at),
            },
        };
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        var headers = new List<KeyValuePair<string, string>>();
        headers.AddRange(Sign(order.Shop, ChannelKind.TikTokShop, bytes));
        return new WebhookDelivery(DeliveryKind.Order, ChannelKind.TikTokShop, TikTokShopPath, headers, bytes, order.HubOrderId);
    }

    private static WebhookDelivery Amazon(DemoOrder order, string status, string reason, DateTime at)
    {
        var items = new JsonArray();
        foreach (var l in order.Lines)
        {
            items.Add(new JsonObject
            {
                ["OrderItemId"] = l.LineId,
                ["SellerSKU"] = l.Sku,
                ["SupplySourceId"] = null,
                ["OrderItemStatus"] = status == "Canceled" ? "Canceled" : "Unshipped",
                ["Quantity"] = l.Quantity,
                ["QuantityShipped"] = 0,
                ["IsBuyerRequestedCancel"] = status == "Canceled",
            });
        }

        var notification = new JsonObject
        {
            ["NotificationVersion"] = "1.0",
            ["NotificationType"] = "ORDER_CHANGE",
            ["PayloadVersion"] = "1.0",
            ["EventTime"] = Iso(at),
            ["Payload"] = new JsonObject
            {
                ["OrderChangeNotification"] = new JsonObject
                {
                    ["NotificationLevel"] = "OrderLevel",
                    ["SellerId"] = order.Shop.ShopId,
                    ["AmazonOrderId"] = order.ChannelOrderId,
                    ["OrderChangeType"] = "OrderStatusChange",
                    ["OrderChangeTrigger"] = new JsonObject { ["TimeOfOrderChange"] = Iso(at), ["ChangeReason"] = reason },
                    ["Summary"] = new JsonObject
                    {
                        ["MarketplaceId"] = "ATVPDKIKX0DER",
                        ["OrderStatus"] = status,
                        ["PurchaseDate"] = Iso(order.CreatedAt),
                        ["DestinationPostalCode"] = order.ShipTo.PostalCode,
                        ["FulfillmentType"] = "MFN",
                        ["OrderType"] = "StandardOrder",
                        ["EarliestShipDate"] = Iso(order.CreatedAt),
                        ["LatestShipDate"] = Iso(order.CreatedAt.AddDays(2)),
                        ["OrderItems"] = items,
                    },
                },
            },
            ["NotificationMetadata"] = new JsonObject
            {
                ["ApplicationId"] = "amzn1.sellerapps.app.fulfillment-demo",
                ["SubscriptionId"] = "demo-subscription",
                ["PublishTime"] = Iso(at),
                ["NotificationId"] = Guid.NewGuid().ToString(),
            },
        };
        // Relayed from the seller's SQS queue: the SQS message with the notification as its Body string.
        var message = new JsonObject
        {
            ["MessageId"] = Guid.NewGuid().ToString(),
            ["ReceiptHandle"] = "demo-receipt-handle",
            ["Body"] = notification.ToJsonString(),
        };
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        var headers = new List<KeyValuePair<string, string>>();
        headers.AddRange(Sign(order.Shop, ChannelKind.Amazon, bytes));
        return new WebhookDelivery(DeliveryKind.Order, ChannelKind.Amazon, AmazonPath, headers, bytes, order.HubOrderId);
    }

    /// <summary>
    /// The order as eBay's Fulfillment API getOrders returns it (one element of <c>orders</c>), at modification time
    /// <paramref name="modifiedAt"/>; <paramref name="cancelled"/> gives it eBay's cancelStatus CANCELED. eBay has no order
    /// webhooks: the demo's channel API stub serves these to the connector's eBay poller.
    /// </summary>
    public static JsonObject EbayOrder(DemoOrder order, DateTime modifiedAt, bool cancelled)
    {
        ArgumentNullException.ThrowIfNull(order);
        var items = new JsonArray();
        foreach (var l in order.Lines)
        {
            items.Add(new JsonObject
            {
                ["lineItemId"] = l.LineId,
                ["legacyItemId"] = l.VariantId,
                ["sku"] = l.Sku,
                ["title"] = l.Sku,
                ["quantity"] = l.Quantity,
                ["lineItemCost"] = new JsonObject { ["value"] = Money(l.Price * l.Quantity), ["currency"] = "USD" },
                ["lineItemFulfillmentStatus"] = "NOT_STARTED",
                ["lineItemFulfillmentInstructions"] = new JsonObject { ["shipByDate"] = Iso(order.CreatedAt.AddDays(2)), ["guaranteedDelivery"] = false },
            });
        }

        var total = order.Lines.Sum(l => l.Price * l.Quantity);
        var to = order.ShipTo;
        return new JsonObject
        {
            ["orderId"] = order.ChannelOrderId,
            ["legacyOrderId"] = $"{order.Number % 1_000_000_000_000L}-{order.Number % 1_000_000L}",
            ["creationDate"] = Iso(order.CreatedAt),
            ["lastModifiedDate"] = Iso(modifiedAt),
            ["orderFulfillmentStatus"] = "NOT_STARTED",
            ["orderPaymentStatus"] = "PAID",
            ["sellerId"] = order.Shop.ShopId,
            ["salesRecordReference"] = (order.Number % 1_000_000L).ToString(CultureInfo.InvariantCulture),
            ["pricingSummary"] = new JsonObject { ["total"] = new JsonObject { ["value"] = Money(total), ["currency"] = "USD" } },
            ["cancelStatus"] = cancelled
                ? new JsonObject
                {
                    ["cancelState"] = "CANCELED",
                    ["cancelRequests"] = new JsonArray(new JsonObject { ["cancelReason"] = "BUYER_ASKED_CANCEL", ["cancelState"] = "COMPLETED", ["cancelRequestedDate"] = Iso(modifiedAt) }),
                }
                : new JsonObject { ["cancelState"] = "NONE_REQUESTED", ["cancelRequests"] = new JsonArray() },
            ["fulfillmentStartInstructions"] = new JsonArray(new JsonObject
            {
                ["fulfillmentInstructionsType"] = "SHIP_TO",
                ["shippingStep"] = new JsonObject
                {
                    ["shippingServiceCode"] = order.ShippingTitle.StartsWith("Expedited", StringComparison.Ordinal) ? "USPSPriority" : "USPSParcel",
                    ["shipTo"] = new JsonObject
                    {
                        ["fullName"] = $"{to.FirstName} {to.LastName}",
                        ["contactAddress"] = new JsonObject
                        {
                            ["addressLine1"] = to.Line1, ["city"] = to.City, ["stateOrProvince"] = to.Region,
                            ["postalCode"] = to.PostalCode, ["countryCode"] = to.CountryCode,
                        },
                        ["primaryPhone"] = new JsonObject { ["phoneNumber"] = "555-0100" },
                    },
                },
            }),
            ["lineItems"] = items,
        };
    }

    /// <summary>The signature header(s) for a body, as the channel computes them.</summary>
    public static Dictionary<string, string> Sign(DemoShop shop, ChannelKind channel, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(shop);
        return channel switch
        {
            ChannelKind.Shopify => new() { ["X-Shopify-Hmac-Sha256"] = Base64Hmac(shop.Secret, body) },
            ChannelKind.WooCommerce => new() { ["X-WC-Webhook-Signature"] = Base64Hmac(shop.Secret, body) },
            ChannelKind.TikTokShop => new()
            {
                ["Authorization"] = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(shop.Secret),
                    (byte[])[.. Encoding.UTF8.GetBytes(shop.AppKey ?? ""), .. body])),
            },
            _ => new() { ["x-api-key"] = shop.Secret },
        };
    }

    private static string Base64Hmac(string secret, byte[] body) => Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    private static string Money(decimal value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Iso(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string WooTime(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);

    private static long Unix(DateTime t) => new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)).ToUnixTimeSeconds();
}
