namespace Fulfillment.Processors.Inventory.Domain;

public sealed partial class InventoryDecider
{
    private bool TryLines(string cmd, string orderId, IReadOnlyList<OrderLineRequest>? lines, bool allowZero)
    {
        if (lines is null || lines.Count == 0)
        {
            Reject(cmd, orderId, "an order needs lines");
            return false;
        }

        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line is null || string.IsNullOrEmpty(line.LineId) || string.IsNullOrEmpty(line.Sku))
            {
                Reject(cmd, orderId, "order lines need a line id and a SKU");
                return false;
            }

            if (line.Quantity < 0 || (line.Quantity == 0 && !allowZero))
            {
                Reject(cmd, orderId, $"line {line.LineId} has quantity {line.Quantity}");
                return false;
            }

            if (line.WeightGrams < 0)
            {
                Reject(cmd, orderId, $"line {line.LineId} has a negative weight");
                return false;
            }

            for (var j = 0; j < i; j++)
            {
                if (lines[j].LineId == line.LineId)
                {
                    Reject(cmd, orderId, $"line id {line.LineId} used twice");
                    return false;
                }
            }
        }

        return true;
    }

    private OrderLine NewLine(OrderLineRequest request)
    {
        var sku = _s.SkuId(request.Sku);
        return new OrderLine(request.LineId, sku, request.Sku, request.Quantity, request.WeightGrams, _s.Skus[sku].Consumes);
    }

    private void OnPlaceOrder(PlaceOrder c)
    {
        const string cmd = nameof(PlaceOrder);
        var id = c.OrderId ?? "";
        if (id.Length == 0 || string.IsNullOrEmpty(c.Channel) || c.ShipTo is null)
        {
            Reject(cmd, id, "an order needs an id, a channel and a ship-to");
            return;
        }

        if (_s.Orders.ContainsKey(id))
        {
            Reject(cmd, id, "order already placed; send an order update instead");
            return;
        }

        if (!Enum.IsDefined(c.Mode) || !TryLines(cmd, id, c.Lines, allowZero: false))
        {
            if (!Enum.IsDefined(c.Mode))
            {
                Reject(cmd, id, $"unknown fulfilment mode {c.Mode}");
            }

            return;
        }

        var shop = string.IsNullOrEmpty(c.ShopId) ? null : c.ShopId;
        var order = new Order(id, _s.Channel(c.Channel), c.Mode, c.Priority, c.PlacedAt, shop) { ShipTo = Normalize(c.ShipTo) };
        var lines = new OrderLine[c.Lines.Count];
        for (var i = 0; i < lines.Length; i++)
        {
            lines[i] = NewLine(c.Lines[i]);
        }

        order.Lines = lines;
        _s.Orders.Add(id, order);
        DecideOrder(order, "order placed", announceBackorder: true, alwaysEmit: true);
    }

    private static ShipTo Normalize(ShipTo to) =>
        new(Upper(to.Country), to.Region is null ? null : Upper(to.Region), to.Geo);

    private void OnCancelOrder(CancelOrder c)
    {
        if (string.IsNullOrEmpty(c.OrderId) || !_s.Orders.TryGetValue(c.OrderId, out var order))
        {
            Reject(nameof(CancelOrder), c.OrderId ?? "", "unknown order");
            return;
        }

        var released = new List<LineAllocation>();
        foreach (var line in order.Lines)
        {
            ReleaseAll(line, released);
        }

        SetWaiting(order, []);
        _s.Orders.Remove(order.Id);
        _out.Add(new AllocationReleased(order.Id, released, string.IsNullOrEmpty(c.Reason) ? "order cancelled" : $"order cancelled: {c.Reason}", ReleaseCause.OrderCancelled));
    }

    /// <summary>
    /// An edit re-decides the whole order with its own stock counted as free, preferring the sites that already
    /// hold it (MinimiseSplits ranks "ships everything" first, then "already holds the order"). So allocations stay
    /// where they are while that site can still serve the edited order, and move only when keeping them would split
    /// the order or the site is no longer eligible (ship-to, channel, activity). Only net changes are reported as
    /// released. Re-deciding within one command means the order never loses its own stock to a backorder.
    /// </summary>
    private void OnUpdateOrder(UpdateOrder c)
    {
        const string cmd = nameof(UpdateOrder);
        var id = c.OrderId ?? "";
        if (id.Length == 0 || !_s.Orders.TryGetValue(id, out var order))
        {
            Reject(cmd, id, "unknown order");
            return;
        }

        if (c.ShipTo is null || !TryLines(cmd, id, c.Lines, allowZero: true))
        {
            if (c.ShipTo is null)
            {
                Reject(cmd, id, "an order needs a ship-to");
            }

            return;
        }

        foreach (var line in order.Lines)
        {
            OrderLineRequest? wanted = null;
            foreach (var r in c.Lines)
            {
                if (r.LineId == line.LineId)
                {
                    wanted = r;
                }
            }

            if (line.Shipped > 0 && (wanted is null || wanted.Sku != line.Sku || wanted.Quantity < line.Shipped))
            {
                Reject(cmd, id, $"line {line.LineId} already shipped {line.Shipped} of {line.Sku}; it cannot be removed, changed or reduced below that");
                return;
            }
        }

        var before = ReleaseAllRememberingHolds(order);

        var next = new List<OrderLine>(c.Lines.Count);
        foreach (var request in c.Lines)
        {
            OrderLine? existing = null;
            foreach (var line in order.Lines)
            {
                if (line.LineId == request.LineId && line.Sku == request.Sku)
                {
                    existing = line;
                }
            }

            if (existing is not null)
            {
                existing.Quantity = request.Quantity;
                if (request.Quantity > 0)
                {
                    next.Add(existing);
                }
            }
            else if (request.Quantity > 0)
            {
                next.Add(NewLine(request));
            }
        }

        order.Lines = [.. next];
        order.ShipTo = Normalize(c.ShipTo);
        var mark = _out.Count;
        DecideOrder(order, "order updated", announceBackorder: true, alwaysEmit: true);
        _held.Clear();

        var released = new List<LineAllocation>();
        foreach (var (line, location, quantity) in before)
        {
            var kept = next.Contains(line) ? line.AllocatedAt(location) : 0;
            if (quantity > kept)
            {
                released.Add(new LineAllocation(line.LineId, line.Sku, _s.Locations[location].Id, quantity - kept));
            }
        }

        if (released.Count > 0)
        {
            _out.Insert(mark, new AllocationReleased(id, released, "order updated", ReleaseCause.OrderUpdated));
        }
    }

    /// <summary>
    /// Shipments must come from where the lines are allocated: that is what keeps "shipped == deducted" per
    /// location. Shipping from anywhere else (or more than allocated) is rejected with the reason; the operator
    /// re-routes the order (update) or corrects stock (adjust) and the 3PL snapshot reconciles the rest.
    /// </summary>
    private void OnConfirmShipment(ConfirmShipment c)
    {
        const string cmd = nameof(ConfirmShipment);
        var id = c.OrderId ?? "";
        if (id.Length == 0 || !_s.Orders.TryGetValue(id, out var order))
        {
            Reject(cmd, id, "unknown order (never placed, cancelled or already fully shipped)");
            return;
        }

        if (string.IsNullOrEmpty(c.ShipmentId) || order.Shipments?.Contains(c.ShipmentId) == true)
        {
            Reject(cmd, id, string.IsNullOrEmpty(c.ShipmentId) ? "missing shipment id" : $"shipment {c.ShipmentId} already recorded");
            return;
        }

        if (!TryLocation(cmd, c.LocationId, id, out var loc))
        {
            return;
        }

        if (c.Lines is null || c.Lines.Count == 0)
        {
            Reject(cmd, id, "a shipment needs lines");
            return;
        }

        var targets = new OrderLine[c.Lines.Count];
        for (var i = 0; i < targets.Length; i++)
        {
            var shipped = c.Lines[i];
            OrderLine? line = null;
            foreach (var l in order.Lines)
            {
                if (l.LineId == shipped?.LineId)
                {
                    line = l;
                }
            }

            if (line is null || shipped!.Quantity <= 0 || Array.IndexOf(targets, line, 0, i) >= 0)
            {
                Reject(cmd, id, $"line {shipped?.LineId} is unknown, repeated or has a non-positive quantity");
                return;
            }

            var allocated = line.AllocatedAt(loc);
            if (shipped.Quantity > allocated)
            {
                Reject(cmd, id, allocated == 0
                    ? $"line {line.LineId} is not allocated at {c.LocationId} (allocated at: {Describe(line)})"
                    : $"line {line.LineId} ships {shipped.Quantity} from {c.LocationId} but only {allocated} allocated there");
                return;
            }

            targets[i] = line;
        }

        var lines = new LineAllocation[targets.Length];
        for (var i = 0; i < targets.Length; i++)
        {
            var line = targets[i];
            var quantity = c.Lines[i].Quantity;
            var at = IndexOfAllocation(line, loc);
            var entry = line.Allocations[at];
            entry.Quantity -= quantity;
            if (entry.Quantity == 0)
            {
                line.Allocations.RemoveAt(at);
            }
            else
            {
                line.Allocations[at] = entry;
            }

            line.AllocatedTotal -= quantity;
            line.Shipped += quantity;
            foreach (var comp in line.Components)
            {
                var cell = _s.Cell(comp.Sku, loc);
                cell.Allocated -= quantity * comp.Quantity;
                Move(cell, MovementKind.Shipment, -quantity * comp.Quantity, c.ShipmentId, null);
            }

            lines[i] = new LineAllocation(line.LineId, line.Sku, c.LocationId, quantity);
        }

        (order.Shipments ??= new HashSet<string>(StringComparer.Ordinal)).Add(c.ShipmentId);
        _out.Add(new ShipmentRecorded(id, c.ShipmentId, c.LocationId, lines));
        var done = true;
        foreach (var line in order.Lines)
        {
            done &= line.Shipped == line.Quantity;
        }

        if (done)
        {
            SetWaiting(order, []);
            _s.Orders.Remove(id);
        }
    }

    private string Describe(OrderLine line)
    {
        if (line.Allocations.Count == 0)
        {
            return "nowhere";
        }

        var parts = new string[line.Allocations.Count];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = $"{_s.Locations[line.Allocations[i].Location].Id} ×{line.Allocations[i].Quantity}";
        }

        return string.Join(", ", parts);
    }

    /// <summary>Allocates what an order still needs and reports the outcome.</summary>
    private void DecideOrder(Order order, string trigger, bool announceBackorder, bool alwaysEmit)
    {
        var trail = new List<string>(8);
        bool changed;
        if (PoolState.ConfigFor(order).Routing.RequireFull && HoldsAny(order) && order.TotalNeed() > 0)
        {
            changed = RedecideWhole(order, trail, trigger, quiet: !alwaysEmit);
        }
        else
        {
            changed = AllocateRemaining(order, trail, trigger, quiet: !alwaysEmit);
        }

        if (_s.Backorders == BackorderPolicy.ShipComplete && !_s.AllowOversell && order.TotalNeed() > 0 && HoldsAny(order))
        {
            // Ship complete: a short order holds nothing (it got short by stock loss, or was allocated before the
            // policy changed), so its stock can complete other orders.
            var released = new List<LineAllocation>();
            foreach (var line in order.Lines)
            {
                ReleaseAll(line, released);
            }

            trail.Add("ship complete: the order cannot be completed, its allocations are released");
            _out.Add(new AllocationReleased(order.Id, released, "ship complete: the order cannot be completed now", ReleaseCause.StockLost));
            _releasedWhole = true;
            changed = true;
        }

        var backordered = Backorders(order);
        SetWaiting(order, backordered);
        if (changed || alwaysEmit)
        {
            _out.Add(new AllocationDecided(order.Id, order.Channel.Name, Allocations(order), backordered, trail));
        }

        if (backordered.Length > 0 && announceBackorder)
        {
            _out.Add(new OrderBackordered(order.Id, backordered, _backorderReason ?? "insufficient stock"));
        }
    }

    /// <summary>
    /// Releases every allocation of the order without reporting it, and remembers where it was held (<c>_held</c>, so
    /// the re-decision can prefer those sites) and what it held (returned, so only the net change is reported).
    /// </summary>
    private List<(OrderLine Line, int Location, int Quantity)> ReleaseAllRememberingHolds(Order order)
    {
        var before = new List<(OrderLine Line, int Location, int Quantity)>();
        _held.Clear();
        foreach (var line in order.Lines)
        {
            foreach (var entry in line.Allocations)
            {
                before.Add((line, entry.Location, entry.Quantity));
                if (!_held.Contains(entry.Location))
                {
                    _held.Add(entry.Location);
                }
            }

            for (var i = line.Allocations.Count - 1; i >= 0; i--)
            {
                ReleaseAt(line, i, line.Allocations[i].Quantity, null);
            }
        }

        return before;
    }

    /// <summary>
    /// Require full availability, and the order holds only part of what it needs (it lost stock, or was allocated
    /// before the rule applied): its allocations are re-decided whole, preferring where it is held, so it ends up
    /// at one location that ships everything or holding nothing. Only the net release is reported.
    /// </summary>
    private bool RedecideWhole(Order order, List<string> trail, string trigger, bool quiet)
    {
        var before = ReleaseAllRememberingHolds(order);

        trail.Add("require full availability: the order holds only part of what it needs, so all of it is re-decided");
        var changed = AllocateRemaining(order, trail, trigger, quiet);
        _held.Clear();
        var released = new List<LineAllocation>();
        foreach (var (line, location, quantity) in before)
        {
            var kept = line.AllocatedAt(location);
            if (quantity > kept)
            {
                released.Add(new LineAllocation(line.LineId, line.Sku, _s.Locations[location].Id, quantity - kept));
            }
        }

        if (released.Count > 0)
        {
            _out.Add(new AllocationReleased(order.Id, released, "require full availability: the order cannot be shipped whole from where it was held", ReleaseCause.StockLost));
            _releasedWhole = true;
            changed = true;
        }

        return changed;
    }

    private static bool HoldsAny(Order order)
    {
        foreach (var line in order.Lines)
        {
            if (line.AllocatedTotal > 0)
            {
                return true;
            }
        }

        return false;
    }

    private LineAllocation[] Allocations(Order order)
    {
        var n = 0;
        foreach (var line in order.Lines)
        {
            n += line.Allocations.Count;
        }

        var result = new LineAllocation[n];
        n = 0;
        foreach (var line in order.Lines)
        {
            foreach (var a in line.Allocations)
            {
                result[n++] = new LineAllocation(line.LineId, line.Sku, _s.Locations[a.Location].Id, a.Quantity);
            }
        }

        return result;
    }

    private static LineBackorder[] Backorders(Order order)
    {
        var n = 0;
        foreach (var line in order.Lines)
        {
            if (line.Need > 0)
            {
                n++;
            }
        }

        if (n == 0)
        {
            return [];
        }

        var result = new LineBackorder[n];
        n = 0;
        foreach (var line in order.Lines)
        {
            if (line.Need > 0)
            {
                result[n++] = new LineBackorder(line.LineId, line.Sku, line.Need);
            }
        }

        return result;
    }

    /// <summary>Keeps the per-SKU waiting sets in step with the order's backordered components.</summary>
    private void SetWaiting(Order order, LineBackorder[] backordered)
    {
        if (order.WaitingOn is null && backordered.Length == 0)
        {
            return;
        }

        if (order.WaitingOn is not null)
        {
            foreach (var sku in order.WaitingOn)
            {
                _s.Skus[sku].Waiting?.Remove(order);
            }

            order.WaitingOn = null;
        }

        if (backordered.Length == 0)
        {
            return;
        }

        var waiting = new List<int>();
        foreach (var line in order.Lines)
        {
            if (line.Need <= 0)
            {
                continue;
            }

            foreach (var comp in line.Components)
            {
                if (!waiting.Contains(comp.Sku))
                {
                    waiting.Add(comp.Sku);
                    (_s.Skus[comp.Sku].Waiting ??= new SortedSet<Order>(BackorderOrder.Instance)).Add(order);
                }
            }
        }

        order.WaitingOn = waiting;
    }

    /// <summary>
    /// After stock became free (receipt, transfer received, adjustment up, restock, release of another order,
    /// configuration change), backordered orders waiting on those SKUs get another allocation pass in FIFO order:
    /// priority (higher first), then order time, then order id.
    /// </summary>
    private void FillBackorders()
    {
        // A ship-complete order that had to give its stock back frees units other waiting orders may complete with:
        // another pass. It ends: after a release the order holds nothing, and ship-complete passes never leave an
        // order partly allocated, so nothing is released twice.
        do
        {
            _releasedWhole = false;
            FillBackordersOnce();
            _retry.Clear();
            _retryAll = false;
        }
        while (_releasedWhole);
    }

    private void FillBackordersOnce()
    {
        if (_dirty.Count == 0 && _retry.Count == 0 && !_retryAll)
        {
            return;
        }

        var batch = new SortedSet<Order>(BackorderOrder.Instance);
        if (_retryAll)
        {
            foreach (var sku in _s.Skus)
            {
                if (sku.Waiting is { Count: > 0 })
                {
                    batch.UnionWith(sku.Waiting);
                }
            }
        }
        else
        {
            foreach (var sku in _dirty)
            {
                if (_s.Skus[sku].Waiting is { Count: > 0 } waiting)
                {
                    batch.UnionWith(waiting);
                }
            }
        }

        foreach (var order in _retry)
        {
            batch.Add(order);
        }

        foreach (var order in batch)
        {
            if (!_s.Orders.TryGetValue(order.Id, out var current) || !ReferenceEquals(current, order))
            {
                continue;
            }

            var retried = _retry.Contains(order);
            if (!retried && order.TotalNeed() == 0)
            {
                continue;
            }

            DecideOrder(order, retried ? "re-allocation after stock loss" : "backorder fill", announceBackorder: retried, alwaysEmit: retried);
        }
    }
}
