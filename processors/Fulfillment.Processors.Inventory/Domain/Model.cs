namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>What kind of site holds stock. 3PLs are virtual warehouses; FBA stock serves only AFN orders.</summary>
public enum LocationKind
{
    Warehouse,
    ThirdParty,
    AmazonFba,
}

/// <summary>Who fulfils an order: the merchant (MFN, incl. 3PLs) or Amazon (AFN, from FBA stock only).</summary>
public enum FulfillmentMode
{
    Merchant,
    Amazon,
}

/// <summary>Rules of the routing chain, applied in the configured order (HotWax/Shopify style).</summary>
public enum RoutingRule
{
    MinimiseSplits,
    ChannelRanking,
    Proximity,
    StockBalance,
}

/// <summary>What the pool does with an order it cannot fully allocate.</summary>
public enum BackorderPolicy
{
    /// <summary>Allocate what is in stock now, backorder the rest.</summary>
    AllocateAvailable,

    /// <summary>Allocate nothing until the whole order can be allocated; until then it is backordered in full.</summary>
    ShipComplete,
}

public enum MovementKind
{
    Receipt,
    Adjustment,
    CycleCount,
    TransferShipped,
    TransferReceived,
    TransferDiscrepancy,
    SnapshotReconciliation,
    Shipment,
    ReturnRestock,
}

public enum TransferStatus
{
    Requested,
    Shipped,
    Received,
    Cancelled,
}

public readonly record struct GeoPoint(double Latitude, double Longitude);

/// <summary>Destination of an order. Country is ISO 3166-1 alpha-2; region is the province/state code.</summary>
public sealed record ShipTo(string Country, string? Region = null, GeoPoint? Geo = null);

public sealed record SkuQuantity(string Sku, int Quantity);

public sealed record OrderLineRequest(string LineId, string Sku, int Quantity, int WeightGrams = 0);

public sealed record ShippedLine(string LineId, int Quantity);
