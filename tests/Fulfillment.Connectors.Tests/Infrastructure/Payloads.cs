using System.Text;

namespace Fulfillment.Connectors.Tests.Infrastructure;

/// <summary>Bodies in the shapes the vendors document (Shopify REST Order webhook, WooCommerce REST v3 order, TikTok Shop
/// order status notification, SP-API ORDER_CHANGE), with ids filled in per test.</summary>
public static class Payloads
{
    public static long NewId() => Random.Shared.NextInt64(100_000_000_000, 999_999_999_999);

    public static byte[] ShopifyOrder(long orderId, string sku1 = "TENT-2P-GRN", string sku2 = "MUG-TI-450", string? cancelledAt = null) =>
        Encoding.UTF8.GetBytes($$"""
        {"id":{{orderId}},"admin_graphql_api_id":"gid://shopify/Order/{{orderId}}","app_id":580111,"browser_ip":"216.191.105.146",
         "buyer_accepts_marketing":false,"cancel_reason":{{(cancelledAt is null ? "null" : "\"customer\"")}},"cancelled_at":{{(cancelledAt is null ? "null" : $"\"{cancelledAt}\"")}},
         "closed_at":null,"confirmation_number":"XPAV284CT","confirmed":true,"contact_email":"jon@example.com",
         "created_at":"2025-11-20T14:32:05-05:00","currency":"CAD","current_subtotal_price":"254.97","current_total_price":"274.97",
         "email":"jon@example.com","financial_status":"paid","fulfillment_status":null,"name":"#1{{orderId % 10000}}","order_number":1{{orderId % 10000}},
         "processed_at":"2025-11-20T14:32:04-05:00","source_name":"web","subtotal_price":"254.97","tags":"","test":false,
         "total_price":"274.97","total_price_set":{"shop_money":{"amount":"274.97","currency_code":"CAD"},"presentment_money":{"amount":"274.97","currency_code":"CAD"} },
         "updated_at":"2025-11-20T14:32:06-05:00","user_id":null,
         "customer":{"id":115310627314723954,"email":"jon@example.com","first_name":"Jon","last_name":"Snow"},
         "line_items":[
           {"id":866550311766439020,"admin_graphql_api_id":"gid://shopify/LineItem/866550311766439020","current_quantity":1,"fulfillable_quantity":1,
            "fulfillment_service":"manual","fulfillment_status":null,"gift_card":false,"grams":2300,"name":"Trail Tent 2P - Green","price":"199.99",
            "price_set":{"shop_money":{"amount":"199.99","currency_code":"CAD"} },"product_exists":true,"product_id":632910392,"properties":[],
            "quantity":1,"requires_shipping":true,"sku":"{{sku1}}","taxable":true,"title":"Trail Tent 2P","total_discount":"0.00",
            "variant_id":808950810,"variant_title":"Green","vendor":"Acme Outdoor","tax_lines":[],"duties":[],"discount_allocations":[]},
           {"id":141249953214522974,"admin_graphql_api_id":"gid://shopify/LineItem/141249953214522974","current_quantity":2,"fulfillable_quantity":2,
            "fulfillment_service":"manual","fulfillment_status":null,"gift_card":false,"grams":180,"name":"Titanium Mug 450","price":"27.49",
            "product_exists":true,"product_id":788032119674292922,"properties":[],"quantity":2,"requires_shipping":true,"sku":"{{sku2}}",
            "taxable":true,"title":"Titanium Mug 450","total_discount":"0.00","variant_id":457924702,"variant_title":null,"vendor":"Acme Outdoor",
            "tax_lines":[],"duties":[],"discount_allocations":[]}],
         "shipping_address":{"first_name":"Jon","address1":"123 Amoebobacterium St","phone":"555-625-1199","city":"Ottawa","zip":"K2P 0V6",
            "province":"Ontario","country":"Canada","last_name":"Snow","address2":"Unit 806","company":null,"latitude":45.41634,"longitude":-75.6868,
            "name":"Jon Snow","country_code":"CA","province_code":"ON"},
         "shipping_lines":[{"id":271878346596884015,"carrier_identifier":null,"code":"Express","discounted_price":"20.00","price":"20.00",
            "source":"shopify","title":"Express Shipping","tax_lines":[],"discount_allocations":[]}],
         "fulfillments":[],"refunds":[]}
        """);

    public static byte[] WooOrder(long orderId, string modifiedGmt, string status = "processing", string sku = "STOVE-MINI") =>
        Encoding.UTF8.GetBytes($$"""
        {"id":{{orderId}},"parent_id":0,"status":"{{status}}","currency":"USD","version":"9.4.2","prices_include_tax":false,
         "date_created":"2025-11-20T09:15:02","date_modified":"{{modifiedGmt}}","discount_total":"0.00","discount_tax":"0.00",
         "shipping_total":"10.00","shipping_tax":"0.00","cart_tax":"1.35","total":"40.35","total_tax":"1.35","customer_id":26,
         "order_key":"wc_order_58d2d042d1d","billing":{"first_name":"John","last_name":"Doe","company":"","address_1":"969 Market","address_2":"",
         "city":"San Francisco","state":"CA","postcode":"94103","country":"US","email":"john.doe@example.com","phone":"(555) 555-5555"},
         "shipping":{"first_name":"John","last_name":"Doe","company":"","address_1":"969 Market","address_2":"","city":"San Francisco",
         "state":"CA","postcode":"94103","country":"US","phone":""},"payment_method":"bacs","payment_method_title":"Direct Bank Transfer",
         "transaction_id":"","customer_ip_address":"","customer_user_agent":"","created_via":"checkout","customer_note":"",
         "date_completed":null,"date_paid":"2025-11-20T09:15:03","cart_hash":"","number":"{{orderId}}","meta_data":[],
         "line_items":[{"id":315,"name":"Mini Stove","product_id":93,"variation_id":0,"quantity":2,"tax_class":"","subtotal":"29.00",
           "subtotal_tax":"1.35","total":"29.00","total_tax":"1.35","taxes":[],"meta_data":[],"sku":"{{sku}}","price":14.5,"image":{"id":"","src":""},"parent_name":null}],
         "tax_lines":[],"shipping_lines":[{"id":317,"method_title":"Flat Rate","method_id":"flat_rate","instance_id":"3","total":"10.00",
           "total_tax":"0.00","taxes":[],"meta_data":[]}],"fee_lines":[],"coupon_lines":[],"refunds":[],"payment_url":"",
         "is_editable":false,"needs_payment":false,"needs_processing":true,
         "date_created_gmt":"2025-11-20T12:15:02","date_modified_gmt":"{{modifiedGmt}}","date_completed_gmt":null,"date_paid_gmt":"2025-11-20T12:15:03",
         "currency_symbol":"$","_links":{} }
        """);

    public static byte[] TikTokStatus(string notificationId, string orderId, string status, string shopId = ConnectorStack.TikTokShopId) =>
        Encoding.UTF8.GetBytes($$"""
        {"type":1,"tts_notification_id":"{{notificationId}}","shop_id":"{{shopId}}","timestamp":1732112000,
         "data":{"order_id":"{{orderId}}","order_status":"{{status}}","is_on_hold_order":false,"update_time":1732111990} }
        """);

    public static byte[] AmazonOrderChange(string notificationId, string amazonOrderId, string fulfillmentType = "MFN", string status = "Unshipped",
        string changeReason = "NewOrder", string sku = "BOOT-W-42", string sellerId = ConnectorStack.AmazonSellerId) =>
        Encoding.UTF8.GetBytes($$"""
        {"NotificationVersion":"1.0","NotificationType":"ORDER_CHANGE","PayloadVersion":"1.0","EventTime":"2025-11-20T17:05:01.000Z",
         "Payload":{"OrderChangeNotification":{"NotificationLevel":"OrderSummary","SellerId":"{{sellerId}}","AmazonOrderId":"{{amazonOrderId}}",
           "OrderChangeType":"OrderStatusChange","OrderChangeTrigger":{"TimeOfOrderChange":"2025-11-20T17:04:59.000Z","ChangeReason":"{{changeReason}}"},
           "Summary":{"MarketplaceId":"ATVPDKIKX0DER","OrderStatus":"{{status}}","PurchaseDate":"2025-11-20T17:04:50.000Z",
             "DestinationPostalCode":"98109-5210","FulfillmentType":"{{fulfillmentType}}","OrderType":"StandardOrder","NumberOfItemsShipped":0,"NumberOfItemsUnshipped":2,
             "IsPrime":false,"IsPremiumOrder":false,"IsBusinessOrder":false,"IsISPU":false,"ShipmentServiceLevelCategory":"Expedited",
             "EarliestShipDate":"2025-11-21T08:00:00.000Z","LatestShipDate":"2025-11-22T07:59:59.000Z",
             "OrderItems":[{"OrderItemId":"68828574383266","SellerSKU":"{{sku}}","SupplySourceId":null,"OrderItemStatus":null,"Quantity":2,
               "QuantityShipped":0,"IsBuyerRequestedCancel":false,"ItemEarliestDeliveryDate":null,"ItemLatestDeliveryDate":null}]} } },
         "NotificationMetadata":{"ApplicationId":"amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5","SubscriptionId":"93b098e1-c42-4ecb-9b4c-5d4f8b0b1234",
           "PublishTime":"2025-11-20T17:05:01.500Z","NotificationId":"{{notificationId}}"} }
        """);
}
