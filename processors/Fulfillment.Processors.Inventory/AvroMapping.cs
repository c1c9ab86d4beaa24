using Fulfillment.Processors.Inventory.Domain;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Orders;
using Fulfillment.Schemas.Shipments;
using Fulfillment.Schemas.Stock;
using AvroAllocationDecided = Fulfillment.Schemas.Allocations.AllocationDecided;
using AvroAllocationReleased = Fulfillment.Schemas.Allocations.AllocationReleased;
using AvroDriftDetected = Fulfillment.Schemas.Stock.DriftDetected;
using AvroOrderBackordered = Fulfillment.Schemas.Allocations.OrderBackordered;
using AvroStockLevelChanged = Fulfillment.Schemas.Stock.StockLevelChanged;
using AvroStockMoved = Fulfillment.Schemas.Stock.StockMoved;
using DomainAllocationDecided = Fulfillment.Processors.Inventory.Domain.AllocationDecided;
using DomainAllocationReleased = Fulfillment.Processors.Inventory.Domain.AllocationReleased;
using DomainDriftDetected = Fulfillment.Processors.Inventory.Domain.DriftDetected;
using DomainLocationKind = Fulfillment.Processors.Inventory.Domain.LocationKind;
using DomainOrderBackordered = Fulfillment.Processors.Inventory.Domain.OrderBackordered;
using DomainStockLevelChanged = Fulfillment.Processors.Inventory.Domain.StockLevelChanged;
using DomainStockMoved = Fulfillment.Processors.Inventory.Domain.StockMoved;
using SkuQuantity = Fulfillment.Processors.Inventory.Domain.SkuQuantity;

namespace Fulfillment.Processors.Inventory;

/// <summary>
/// Avro events from the catalog topics → decider commands, and decider events → Avro. One Avro event may carry
/// several lines; each line becomes one command, applied in order (a rejected line does not undo earlier ones).
/// Unsupported input throws <see cref="NotSupportedException"/>, which sends the record to the dead-letter topic.
/// Channels are keyed by the channel enum name (e.g. "Shopify"); orders carry their shop id, and channel mappings and
/// routing set for one shop override the channel's for that shop.
/// </summary>
public static class AvroMapping
{
    public static string ChannelName(Channel channel) => channel.ToString();

    public static void ToCommands(OrderEvent value, PoolState state, List<InventoryCommand> into)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(into);
        switch (value.body)
        {
            case OrderPlaced placed:
                AddOrder(placed.order, state, into);
                break;
            case OrderUpdated updated:
                AddOrder(updated.order, state, into);
                break;
            case OrderCancelled cancelled:
                into.Add(new CancelOrder(cancelled.order_id, cancelled.reason ?? ""));
                break;
            default:
                throw new NotSupportedException($"Unknown order event body {value.body?.GetType().Name ?? "null"}.");
        }
    }

    /// <summary>
    /// Placed and updated both carry the whole order. Whichever arrives first places it and later ones update it,
    /// so a redelivered "placed" or an "updated" that overtook its "placed" is harmless. Lines that need no
    /// shipping (digital goods) are not allocated.
    /// </summary>
    private static void AddOrder(ChannelOrder order, PoolState state, List<InventoryCommand> into)
    {
        var lines = new List<OrderLineRequest>(order.lines?.Count ?? 0);
        foreach (var line in order.lines ?? [])
        {
            if (line.requires_shipping)
            {
                lines.Add(new OrderLineRequest(line.line_id, line.sku, line.quantity));
            }
        }

        var shipTo = ToShipTo(order.shipping_address);
        if (state.GetOrder(order.order_id) is not null)
        {
            into.Add(new UpdateOrder(order.order_id, shipTo, lines));
        }
        else if (lines.Count > 0)
        {
            into.Add(new PlaceOrder(
                order.order_id,
                ChannelName(order.channel),
                order.fulfillment_channel == FulfillmentChannel.AFN ? FulfillmentMode.Amazon : FulfillmentMode.Merchant,
                order.priority,
                Utc(order.placed_at),
                shipTo,
                lines,
                order.shop_id));
        }
    }

    private static ShipTo ToShipTo(Address? address) =>
        address is null
            ? new ShipTo("")
            : new ShipTo(address.country_code ?? "", address.region, ToGeo(address));

    private static GeoPoint? ToGeo(Address address) =>
        address.latitude is { } lat && address.longitude is { } lon ? new GeoPoint(lat, lon) : null;

    private static DateTimeOffset Utc(DateTime value) =>
        new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    public static void ToCommands(OperatorCommand value, PoolState state, List<InventoryCommand> into)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(into);
        switch (value.body)
        {
            case LocationUpserted l:
                into.Add(new UpsertLocation(
                    l.location_id,
                    l.kind switch
                    {
                        Schemas.Operator.LocationKind.ThirdParty => DomainLocationKind.ThirdParty,
                        Schemas.Operator.LocationKind.AmazonFba => DomainLocationKind.AmazonFba,
                        _ => DomainLocationKind.Warehouse,
                    },
                    l.active,
                    l.address?.country_code ?? "",
                    l.address?.region,
                    l.address is null ? null : ToGeo(l.address),
                    [.. l.countries_served ?? []],
                    [],
                    l.max_weight_grams is { } w ? (int)Math.Clamp(w, 0, int.MaxValue) : null,
                    l.priority,
                    l.address?.line1));
                break;
            case RoutingRulesSet r:
                into.Add(ToRouting(r));
                break;
            case BundleDefined b:
                into.Add(new DefineBundle(b.bundle_sku, ToSkuQuantities(b.components)));
                break;
            case BundleRemoved b:
                into.Add(new RemoveBundle(b.bundle_sku));
                break;
            case ChannelLocationsSet m:
                into.Add(new SetChannelLocations(ChannelName(m.channel), m.location_ids is null ? null : [.. m.location_ids], m.shop_id));
                break;
            case PoolSettingsSet p:
                into.Add(new ConfigurePool(
                    p.allow_oversell,
                    p.allow_split,
                    p.backorder_policy == Schemas.Operator.BackorderPolicy.ShipComplete ? Domain.BackorderPolicy.ShipComplete : Domain.BackorderPolicy.AllocateAvailable));
                break;
            case SafetyStockSet s:
                if (s.location_id is not null)
                {
                    into.Add(new SetSafetyStock(s.sku, s.location_id, s.quantity));
                }
                else
                {
                    // No location: the same safety stock at every location the pool knows.
                    foreach (var location in state.GetLocationIds())
                    {
                        into.Add(new SetSafetyStock(s.sku, location, s.quantity));
                    }
                }

                break;
            default:
                AddMovement(value.body, into);
                break;
        }
    }

    private static SetRoutingRules ToRouting(RoutingRulesSet r)
    {
        var chain = new List<Domain.RoutingRule>();
        IReadOnlyList<string> ranking = [];
        var excluded = new List<string>();
        var requireFull = false;
        foreach (var rule in r.rules ?? [])
        {
            Domain.RoutingRule mapped;
            switch (rule.kind)
            {
                case RoutingRuleKind.MinimizeSplits:
                    mapped = Domain.RoutingRule.MinimiseSplits;
                    break;
                case RoutingRuleKind.ClosestLocation:
                case RoutingRuleKind.StayInDestinationMarket:
                    mapped = Domain.RoutingRule.Proximity;
                    break;
                case RoutingRuleKind.LocationPriority:
                case RoutingRuleKind.PreferLocations:
                    mapped = Domain.RoutingRule.ChannelRanking;
                    if (rule.location_ids is { Count: > 0 } ids && ranking.Count == 0)
                    {
                        ranking = [.. ids];
                    }

                    break;
                case RoutingRuleKind.HighestAvailable:
                    mapped = Domain.RoutingRule.StockBalance;
                    break;
                case RoutingRuleKind.ExcludeLocations:
                    // Filters, not ranking steps: they apply whatever the chain's order.
                    excluded.AddRange(rule.location_ids ?? []);
                    continue;
                case RoutingRuleKind.RequireFullAvailability:
                    requireFull = true;
                    continue;
                default:
                    throw new NotSupportedException($"Routing rule {rule.kind} is not supported by the inventory pool yet.");
            }

            if (!chain.Contains(mapped))
            {
                chain.Add(mapped);
            }
        }

        return new SetRoutingRules(ChannelName(r.channel), chain, r.allow_split, ranking, excluded, requireFull, r.shop_id);
    }

    public static void ToCommands(StockMovementEvent value, List<InventoryCommand> into)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(into);
        switch (value.body)
        {
            // Allocation and shipment movements are decisions and shipment confirmations seen from another angle;
            // the pool already booked them from the orders and shipments topics.
            case StockAllocated or StockReleased or StockShipped:
                break;
            case StockRestocked r:
                foreach (var line in r.lines ?? [])
                {
                    into.Add(new RestockReturn(r.return_id ?? r.order_id ?? "", line.sku, r.location_id, line.quantity));
                }

                break;
            case ThirdPartyStockSnapshot s:
                into.Add(new ReconcileSnapshot(s.location_id, [.. (s.lines ?? []).Select(l => new SkuQuantity(l.sku, l.on_hand))], s.complete));
                break;
            default:
                AddMovement(value.body, into);
                break;
        }
    }

    private static void AddMovement(object? body, List<InventoryCommand> into)
    {
        switch (body)
        {
            case StockReceived r:
                foreach (var line in r.lines ?? [])
                {
                    into.Add(new ReceiveStock(line.sku, r.location_id, line.quantity, r.receipt_id ?? ""));
                }

                break;
            case StockAdjusted a:
                foreach (var line in a.lines ?? [])
                {
                    into.Add(new AdjustStock(line.sku, a.location_id, line.quantity, a.reason_code.ToString()));
                }

                break;
            case StockCounted c:
                foreach (var line in c.lines ?? [])
                {
                    into.Add(new CountStock(line.sku, c.location_id, line.quantity));
                }

                break;
            case TransferRequested t:
                into.Add(new RequestTransfer(t.transfer_id, t.from_location_id, t.to_location_id, ToSkuQuantities(t.lines)));
                break;
            case TransferShipped t:
                into.Add(new ShipTransfer(t.transfer_id, ToSkuQuantities(t.lines)));
                break;
            case TransferReceived t:
                into.Add(new ReceiveTransfer(t.transfer_id, [.. (t.lines ?? []).Select(l => new SkuQuantity(l.sku, l.received_quantity))]));
                break;
            default:
                throw new NotSupportedException($"Unknown stock event body {body?.GetType().Name ?? "null"}.");
        }
    }

    private static SkuQuantity[] ToSkuQuantities(IList<Schemas.Common.SkuQuantity>? lines) =>
        [.. (lines ?? []).Select(l => new SkuQuantity(l.sku, l.quantity))];

    public static void ToCommands(ShipmentEvent value, List<InventoryCommand> into)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(into);
        if (value.body is not ShipmentConfirmed s)
        {
            throw new NotSupportedException($"Unknown shipment event body {value.body?.GetType().Name ?? "null"}.");
        }

        into.Add(new ConfirmShipment(s.order_id, s.shipment_id, s.location_id, [.. (s.lines ?? []).Select(l => new ShippedLine(l.line_id, l.quantity))]));
    }

    /// <summary>The Avro form of an allocation outcome, or null for events that have no allocation form.</summary>
    public static AllocationEvent? ToAllocationEvent(InventoryEvent e, EventMetadata metadata) => e switch
    {
        DomainAllocationDecided d => new AllocationEvent
        {
            metadata = metadata,
            body = new AvroAllocationDecided
            {
                allocation_id = d.OrderId,
                order_id = d.OrderId,
                lines = [.. d.Allocations.Select(ToAvro)],
                rule_trail = [.. d.RuleTrail],
            },
        },
        DomainOrderBackordered b => new AllocationEvent
        {
            metadata = metadata,
            body = new AvroOrderBackordered
            {
                order_id = b.OrderId,
                lines = [.. b.Lines.Select(l => new BackorderLine { line_id = l.LineId, sku = l.Sku, quantity = l.Quantity })],
                reason = b.Reason,
                rule_trail = [],
            },
        },
        DomainAllocationReleased r => new AllocationEvent
        {
            metadata = metadata,
            body = new AvroAllocationReleased
            {
                allocation_id = r.OrderId,
                order_id = r.OrderId,
                lines = [.. r.Lines.Select(ToAvro)],
                reason = r.Cause switch
                {
                    ReleaseCause.OrderCancelled => ReleaseReason.OrderCancelled,
                    ReleaseCause.OrderUpdated => ReleaseReason.OrderChanged,
                    _ => ReleaseReason.Reallocated,
                },
            },
        },
        _ => null,
    };

    private static AllocationLine ToAvro(LineAllocation a) =>
        new() { line_id = a.LineId, sku = a.Sku, location_id = a.LocationId, quantity = a.Quantity };

    /// <summary>The Avro form of a stock level, drift or ledger movement event, or null for other events.</summary>
    /// <remarks>Transfer reservations count as allocated here: the schema has no separate field, and
    /// on hand − allocated − safety stock must still explain available.</remarks>
    public static StockLevelEvent? ToStockLevelEvent(InventoryEvent e, EventMetadata metadata) => e switch
    {
        DomainStockLevelChanged l => new StockLevelEvent
        {
            metadata = metadata,
            body = new AvroStockLevelChanged
            {
                sku = l.Sku,
                location_id = l.LocationId,
                on_hand = l.OnHand,
                allocated = l.Allocated + l.Reserved,
                safety_stock = l.SafetyStock,
                available = l.Available,
                in_transit = l.InTransit,
                channel_available_to_sell = [.. ChannelStock(l.ChannelAvailable)],
            },
        },
        DomainDriftDetected d => new StockLevelEvent
        {
            metadata = metadata,
            body = new AvroDriftDetected
            {
                sku = d.Sku,
                location_id = d.LocationId,
                expected_on_hand = d.Expected,
                reported_on_hand = d.Reported,
                drift = d.Delta,
                detected_by = DriftSource.ThirdPartySnapshot,
            },
        },
        DomainStockMoved m => new StockLevelEvent
        {
            metadata = metadata,
            body = new AvroStockMoved
            {
                sku = m.Sku,
                location_id = m.LocationId,
                kind = m.Kind switch
                {
                    MovementKind.Receipt => StockMovementKind.Receipt,
                    MovementKind.Adjustment => StockMovementKind.Adjustment,
                    MovementKind.CycleCount => StockMovementKind.CycleCount,
                    MovementKind.TransferShipped => StockMovementKind.TransferShipped,
                    MovementKind.TransferReceived => StockMovementKind.TransferReceived,
                    MovementKind.TransferDiscrepancy => StockMovementKind.TransferDiscrepancy,
                    MovementKind.SnapshotReconciliation => StockMovementKind.SnapshotReconciliation,
                    MovementKind.Shipment => StockMovementKind.Shipment,
                    MovementKind.ReturnRestock => StockMovementKind.ReturnRestock,
                    _ => StockMovementKind.Other,
                },
                quantity = m.Delta,
                on_hand_after = m.OnHandAfter,
                reference = m.Reference,
                reason_code = m.ReasonCode,
            },
        },
        _ => null,
    };

    private static IEnumerable<ChannelStock> ChannelStock(IReadOnlyList<ChannelAvailability> channels)
    {
        foreach (var c in channels)
        {
            if (Enum.TryParse<Channel>(c.Channel, out var channel))
            {
                yield return new ChannelStock { channel = channel, shop_id = c.ShopId ?? "", available_to_sell = c.Available };
            }
        }
    }
}
