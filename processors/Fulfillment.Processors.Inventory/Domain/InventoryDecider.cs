namespace Fulfillment.Processors.Inventory.Domain;

/// <summary>
/// The inventory pool decider: (state, command, now) → (state', events). Deterministic: the same commands in the
/// same order give the same events; time is passed in; nothing iterates a hash container into an output.
/// State is mutated in place (one pool is owned by one task, ARCHITECTURE decision 1) and only after a command
/// is fully validated, so a rejected command leaves the state untouched. Invalid input never throws: it becomes
/// a <see cref="CommandRejected"/> event.
/// The instance holds scratch buffers only; use one instance per thread.
/// </summary>
public sealed partial class InventoryDecider
{
    private PoolState _s = null!;
    private List<InventoryEvent> _out = null!;
    private DateTimeOffset _now;

    private readonly List<StockCell> _touched = [];
    private readonly HashSet<int> _dirty = [];
    private readonly HashSet<Order> _retry = new(ReferenceEqualityComparer.Instance);
    private bool _retryAll;
    private bool _releasedWhole;

    public IReadOnlyList<InventoryEvent> Decide(PoolState state, InventoryCommand command, DateTimeOffset now)
    {
        var output = new List<InventoryEvent>();
        Decide(state, command, now, output);
        return output;
    }

    /// <summary>Decides one command, appending its events to <paramref name="output"/>.</summary>
    public void Decide(PoolState state, InventoryCommand command, DateTimeOffset now, List<InventoryEvent> output)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(output);
        _s = state;
        _out = output;
        _now = now;
        state.CommandSeq++;
        _touched.Clear();
        _dirty.Clear();
        _retry.Clear();
        _retryAll = false;

        switch (command)
        {
            case PlaceOrder c: OnPlaceOrder(c); break;
            case ConfirmShipment c: OnConfirmShipment(c); break;
            case UpdateOrder c: OnUpdateOrder(c); break;
            case CancelOrder c: OnCancelOrder(c); break;
            case ReceiveStock c: OnReceive(c); break;
            case AdjustStock c: OnAdjust(c); break;
            case CountStock c: OnCount(c); break;
            case SetSafetyStock c: OnSafetyStock(c); break;
            case RestockReturn c: OnRestock(c); break;
            case RequestTransfer c: OnRequestTransfer(c); break;
            case ShipTransfer c: OnShipTransfer(c); break;
            case ReceiveTransfer c: OnReceiveTransfer(c); break;
            case CancelTransfer c: OnCancelTransfer(c); break;
            case ReconcileSnapshot c: OnSnapshot(c); break;
            case UpsertLocation c: OnUpsertLocation(c); break;
            case DeactivateLocation c: OnDeactivateLocation(c); break;
            case SetChannelLocations c: OnSetChannelLocations(c); break;
            case SetRoutingRules c: OnSetRoutingRules(c); break;
            case DefineBundle c: OnDefineBundle(c); break;
            case RemoveBundle c: OnRemoveBundle(c); break;
            case ConfigurePool c: OnConfigurePool(c); break;
            case null: Reject("null", "", "no command"); break;
            default: Reject(command.GetType().Name, "", "unsupported command"); break;
        }

        FillBackorders();
        EmitLevels();
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private void Reject(string command, string? reference, string reason) =>
        _out.Add(new CommandRejected(command, reference ?? "", reason));

    private void Touch(StockCell cell)
    {
        if (cell.TouchedAt != _s.CommandSeq)
        {
            cell.TouchedAt = _s.CommandSeq;
            _touched.Add(cell);
        }
    }

    private void Move(StockCell cell, MovementKind kind, int delta, string reference, string? reason)
    {
        cell.OnHand += delta;
        Touch(cell);
        _out.Add(new StockMoved(_s.Skus[cell.Sku].Code, _s.Locations[cell.Location].Id, kind, delta, cell.OnHand, reference, reason, _now));
    }

    private bool TryLocation(string command, string? locationId, string reference, out int location)
    {
        if (string.IsNullOrEmpty(locationId) || !_s.LocationIds.TryGetValue(locationId, out location))
        {
            location = -1;
            Reject(command, reference, $"unknown location '{locationId}'");
            return false;
        }

        return true;
    }

    /// <summary>Resolves a stock-movement target; bundles hold no stock of their own.</summary>
    private bool TryStockTarget(string command, string? sku, string? locationId, out int skuId, out int location)
    {
        skuId = -1;
        var reference = $"{sku}@{locationId}";
        if (!TryLocation(command, locationId, reference, out location))
        {
            return false;
        }

        if (string.IsNullOrEmpty(sku))
        {
            Reject(command, reference, "missing SKU");
            return false;
        }

        if (_s.SkuIds.TryGetValue(sku, out var existing) && _s.Skus[existing].Bundle is not null)
        {
            Reject(command, reference, $"'{sku}' is a bundle and holds no stock of its own; move its components");
            return false;
        }

        skuId = _s.SkuId(sku);
        return true;
    }

    private void Dirty(int sku) => _dirty.Add(sku);

    // ---- configuration ---------------------------------------------------------------------------------------

    /// <summary>
    /// Turning oversell or the split default on, or changing the backorder policy, retries every backorder: they may
    /// be allocatable now, and switching to ship-complete releases what short orders hold at once.
    /// </summary>
    private void OnConfigurePool(ConfigurePool c)
    {
        if (!Enum.IsDefined(c.Backorders))
        {
            Reject(nameof(ConfigurePool), "", $"unknown backorder policy {c.Backorders}");
            return;
        }

        if ((c.AllowOversell && !_s.AllowOversell) || (c.AllowSplit && !_s.AllowSplit) || c.Backorders != _s.Backorders)
        {
            _retryAll = true;
        }

        _s.AllowOversell = c.AllowOversell;
        _s.AllowSplit = c.AllowSplit;
        _s.Backorders = c.Backorders;
    }

    private void OnUpsertLocation(UpsertLocation c)
    {
        const string cmd = nameof(UpsertLocation);
        if (string.IsNullOrWhiteSpace(c.LocationId))
        {
            Reject(cmd, "", "missing location id");
            return;
        }

        if (c.Geo is { } g && (double.IsNaN(g.Latitude) || double.IsNaN(g.Longitude) || Math.Abs(g.Latitude) > 90 || Math.Abs(g.Longitude) > 180))
        {
            Reject(cmd, c.LocationId, "latitude must be within ±90 and longitude within ±180");
            return;
        }

        if (c.MaxOrderWeightGrams is < 0)
        {
            Reject(cmd, c.LocationId, "negative weight limit");
            return;
        }

        if (!_s.LocationIds.TryGetValue(c.LocationId, out var index))
        {
            index = _s.Locations.Count;
            _s.LocationIds.Add(c.LocationId, index);
            _s.Locations.Add(new LocationState(c.LocationId, index));
        }

        var loc = _s.Locations[index];
        var sellabilityChanged = loc.Active != c.Active || loc.Kind != c.Kind;
        loc.Kind = c.Kind;
        loc.Active = c.Active;
        loc.Country = Upper(c.Country);
        loc.Region = c.Region is null ? null : Upper(c.Region);
        loc.Geo = c.Geo;
        loc.CountriesServed = UpperAll(c.CountriesServed);
        loc.RegionsServed = UpperAll(c.RegionsServed);
        loc.MaxOrderWeightGrams = c.MaxOrderWeightGrams;
        loc.Priority = c.Priority;
        loc.Address = c.Address;
        if (sellabilityChanged)
        {
            TouchLocation(index);
            // Its cells carry the figures of the channels it serves, even when it just became FBA (FBA cells
            // otherwise report none), so the change of those channels' availability is announced.
            foreach (var channel in _s.ConfiguredChannels)
            {
                if (channel.Serves(index))
                {
                    channel.ChangedAt = _s.CommandSeq;
                }
            }
        }

        _retryAll = true;
    }

    private void OnDeactivateLocation(DeactivateLocation c)
    {
        if (!TryLocation(nameof(DeactivateLocation), c.LocationId, c.LocationId ?? "", out var index))
        {
            return;
        }

        // Existing allocations stay: the site committed to them; deactivation only stops new allocations and sales.
        if (_s.Locations[index].Active)
        {
            _s.Locations[index].Active = false;
            TouchLocation(index);
        }
    }

    /// <summary>Channel availability of every SKU at a location changed; report them all (rare, operator-driven).</summary>
    private void TouchLocation(int location)
    {
        foreach (var sku in _s.Skus)
        {
            if ((uint)location < (uint)sku.Cells.Length && sku.Cells[location] is { } cell)
            {
                Touch(cell);
            }
        }
    }

    /// <summary>The configuration a command addresses: a shop's when it names one, else the channel's.</summary>
    private ChannelConfig Target(string channel, string? shopId) =>
        string.IsNullOrEmpty(shopId) ? _s.Channel(channel) : _s.Shop(channel, shopId);

    /// <summary>
    /// Applies a configuration change to a channel or shop. Where the locations a configuration of that channel
    /// (the channel-wide one or any shop's) serves changed, every cell there is reported, with that channel's
    /// availability even for a location it no longer serves (so the drop is announced); a configuration used for
    /// the first time reports every cell. Every backorder is retried.
    /// </summary>
    private void ChangeConfig(ChannelConfig target, Action<ChannelConfig> change)
    {
        var group = target.Parent ?? target;
        var configs = new List<ChannelConfig> { group };
        if (group.Shops is not null)
        {
            configs.AddRange(group.Shops.Values);
        }

        var locations = _s.Locations.Count;
        var before = new bool[configs.Count * locations];
        for (var i = 0; i < configs.Count; i++)
        {
            for (var l = 0; l < locations; l++)
            {
                before[(i * locations) + l] = configs[i].Serves(l);
            }
        }

        var firstUse = !target.Configured || !group.Configured;
        change(target);
        _s.MarkConfigured(target);
        var touched = false;
        for (var l = 0; l < locations; l++)
        {
            var differs = firstUse;
            for (var i = 0; i < configs.Count && !differs; i++)
            {
                differs = before[(i * locations) + l] != configs[i].Serves(l);
            }

            if (differs)
            {
                TouchLocation(l);
                touched = true;
            }
        }

        if (touched)
        {
            foreach (var config in configs)
            {
                config.ChangedAt = _s.CommandSeq;
            }
        }

        _retryAll = true;
    }

    private void OnSetChannelLocations(SetChannelLocations c)
    {
        const string cmd = nameof(SetChannelLocations);
        if (string.IsNullOrEmpty(c.Channel))
        {
            Reject(cmd, "", "missing channel");
            return;
        }

        var shop = string.IsNullOrEmpty(c.ShopId) ? null : c.ShopId;
        if (c.LocationIds is null)
        {
            // A channel may use every location again; a shop falls back to its channel's mapping.
            ChangeConfig(Target(c.Channel, shop), static config =>
            {
                config.OwnMapping = false;
                config.Mapped = null;
            });
            return;
        }

        var mapped = new bool[_s.Locations.Count];
        foreach (var id in c.LocationIds)
        {
            if (!TryLocation(cmd, id, shop is null ? c.Channel : $"{c.Channel}/{shop}", out var l))
            {
                return;
            }

            mapped[l] = true;
        }

        ChangeConfig(Target(c.Channel, shop), config =>
        {
            config.OwnMapping = true;
            config.Mapped = mapped;
        });
    }

    private void OnSetRoutingRules(SetRoutingRules c)
    {
        const string cmd = nameof(SetRoutingRules);
        if (string.IsNullOrEmpty(c.Channel))
        {
            Reject(cmd, "", "missing channel");
            return;
        }

        var shop = string.IsNullOrEmpty(c.ShopId) ? null : c.ShopId;
        var reference = shop is null ? c.Channel : $"{c.Channel}/{shop}";
        var chain = (c.Chain ?? []).ToArray();
        for (var i = 0; i < chain.Length; i++)
        {
            if (!Enum.IsDefined(chain[i]) || Array.IndexOf(chain, chain[i]) != i)
            {
                Reject(cmd, reference, $"rule chain has an unknown or repeated rule '{chain[i]}'");
                return;
            }
        }

        var ranking = new int[_s.Locations.Count];
        Array.Fill(ranking, int.MaxValue);
        var rank = 0;
        foreach (var id in c.LocationRanking ?? [])
        {
            if (!TryLocation(cmd, id, reference, out var l))
            {
                return;
            }

            if (ranking[l] != int.MaxValue)
            {
                Reject(cmd, reference, $"location '{id}' ranked twice");
                return;
            }

            ranking[l] = rank++;
        }

        bool[]? excluded = null;
        foreach (var id in c.ExcludedLocations ?? [])
        {
            if (!TryLocation(cmd, id, reference, out var l))
            {
                return;
            }

            (excluded ??= new bool[_s.Locations.Count])[l] = true;
        }

        var settings = new RoutingSettings(chain, c.AllowSplit, rank == 0 ? null : ranking, excluded, c.RequireFullAvailability);
        ChangeConfig(Target(c.Channel, shop), config => config.OwnRouting = settings);
    }

    private void OnDefineBundle(DefineBundle c)
    {
        const string cmd = nameof(DefineBundle);
        if (string.IsNullOrEmpty(c.BundleSku))
        {
            Reject(cmd, "", "missing bundle SKU");
            return;
        }

        if (c.Components is null || c.Components.Count == 0)
        {
            Reject(cmd, c.BundleSku, "a bundle needs at least one component");
            return;
        }

        if (_s.SkuIds.TryGetValue(c.BundleSku, out var existing))
        {
            var entry = _s.Skus[existing];
            if (entry.UsedInBundles is { Count: > 0 })
            {
                Reject(cmd, c.BundleSku, "the SKU is a component of another bundle; bundles do not nest");
                return;
            }

            foreach (var cell in entry.Cells)
            {
                if (cell is not null && (cell.OnHand != 0 || cell.Allocated != 0 || cell.InTransit != 0 || cell.Reserved != 0))
                {
                    Reject(cmd, c.BundleSku, "the SKU holds stock of its own; a bundle is made of its components");
                    return;
                }
            }
        }

        for (var i = 0; i < c.Components.Count; i++)
        {
            var comp = c.Components[i];
            if (comp is null || string.IsNullOrEmpty(comp.Sku) || comp.Quantity <= 0)
            {
                Reject(cmd, c.BundleSku, "components need a SKU and a positive quantity");
                return;
            }

            if (comp.Sku == c.BundleSku
                || (_s.SkuIds.TryGetValue(comp.Sku, out var cs) && _s.Skus[cs].Bundle is not null))
            {
                Reject(cmd, c.BundleSku, $"component '{comp.Sku}' is a bundle; bundles do not nest");
                return;
            }

            for (var j = 0; j < i; j++)
            {
                if (c.Components[j].Sku == comp.Sku)
                {
                    Reject(cmd, c.BundleSku, $"component '{comp.Sku}' listed twice");
                    return;
                }
            }
        }

        var bundleId = _s.SkuId(c.BundleSku);
        var bundle = _s.Skus[bundleId];
        if (bundle.Bundle is not null)
        {
            foreach (var old in bundle.Bundle)
            {
                _s.Skus[old.Sku].UsedInBundles?.Remove(bundleId);
            }
        }

        var components = new Component[c.Components.Count];
        for (var i = 0; i < components.Length; i++)
        {
            var compId = _s.SkuId(c.Components[i].Sku);
            components[i] = new Component(compId, c.Components[i].Quantity);
            var used = _s.Skus[compId].UsedInBundles ??= [];
            var at = used.BinarySearch(bundleId);
            if (at < 0)
            {
                used.Insert(~at, bundleId);
            }
        }

        bundle.Bundle = components;
    }

    private void OnRemoveBundle(RemoveBundle c)
    {
        if (string.IsNullOrEmpty(c.BundleSku) || !_s.SkuIds.TryGetValue(c.BundleSku, out var id) || _s.Skus[id].Bundle is not { } components)
        {
            Reject(nameof(RemoveBundle), c.BundleSku ?? "", "not a bundle");
            return;
        }

        foreach (var comp in components)
        {
            _s.Skus[comp.Sku].UsedInBundles?.Remove(id);
        }

        // Open orders keep the components their lines captured; new lines treat the SKU as a plain one.
        _s.Skus[id].Bundle = null;
    }

    private static string Upper(string? value) => (value ?? "").Trim().ToUpperInvariant();

    private static string[] UpperAll(IReadOnlyList<string>? values)
    {
        if (values is null || values.Count == 0)
        {
            return [];
        }

        var result = new string[values.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = Upper(values[i]);
        }

        return result;
    }

    // ---- stock movements -------------------------------------------------------------------------------------

    private void OnReceive(ReceiveStock c)
    {
        if (!TryStockTarget(nameof(ReceiveStock), c.Sku, c.LocationId, out var sku, out var loc))
        {
            return;
        }

        if (c.Quantity <= 0)
        {
            Reject(nameof(ReceiveStock), $"{c.Sku}@{c.LocationId}", "receipt quantity must be positive");
            return;
        }

        Move(_s.Cell(sku, loc), MovementKind.Receipt, c.Quantity, c.Reference ?? "", null);
        Dirty(sku);
    }

    private void OnAdjust(AdjustStock c)
    {
        const string cmd = nameof(AdjustStock);
        if (!TryStockTarget(cmd, c.Sku, c.LocationId, out var sku, out var loc))
        {
            return;
        }

        var reference = $"{c.Sku}@{c.LocationId}";
        if (c.Delta == 0)
        {
            Reject(cmd, reference, "adjustment of zero");
            return;
        }

        if (string.IsNullOrWhiteSpace(c.ReasonCode))
        {
            Reject(cmd, reference, "an adjustment needs a reason code");
            return;
        }

        var cells = _s.Skus[sku].Cells;
        var onHand = (uint)loc < (uint)cells.Length ? cells[loc]?.OnHand ?? 0 : 0;
        if ((long)onHand + c.Delta < 0)
        {
            Reject(cmd, reference, $"adjustment {c.Delta} would take on hand {onHand} below zero");
            return;
        }

        var cell = _s.Cell(sku, loc);
        Move(cell, MovementKind.Adjustment, c.Delta, reference, c.ReasonCode);
        AfterOnHandChange(cell, c.Delta, $"adjustment {c.ReasonCode}");
    }

    private void OnCount(CountStock c)
    {
        if (!TryStockTarget(nameof(CountStock), c.Sku, c.LocationId, out var sku, out var loc))
        {
            return;
        }

        if (c.CountedQuantity < 0)
        {
            Reject(nameof(CountStock), $"{c.Sku}@{c.LocationId}", "a count cannot be negative");
            return;
        }

        var cell = _s.Cell(sku, loc);
        var delta = c.CountedQuantity - cell.OnHand;
        // A count that matches is still booked (delta 0): it is the audit record that the count happened.
        Move(cell, MovementKind.CycleCount, delta, $"{c.Sku}@{c.LocationId}", "cycle-count");
        AfterOnHandChange(cell, delta, "cycle count");
    }

    private void AfterOnHandChange(StockCell cell, int delta, string why)
    {
        if (delta > 0)
        {
            Dirty(cell.Sku);
        }
        else if (delta < 0)
        {
            ReleaseExcess(cell, why);
        }
    }

    private void OnSafetyStock(SetSafetyStock c)
    {
        if (!TryStockTarget(nameof(SetSafetyStock), c.Sku, c.LocationId, out var sku, out var loc))
        {
            return;
        }

        if (c.Quantity < 0)
        {
            Reject(nameof(SetSafetyStock), $"{c.Sku}@{c.LocationId}", "safety stock cannot be negative");
            return;
        }

        // Raising safety stock never takes back allocations already made; it only limits new ones.
        var cell = _s.Cell(sku, loc);
        if (c.Quantity < cell.Safety)
        {
            Dirty(sku);
        }

        cell.Safety = c.Quantity;
        Touch(cell);
    }

    private void OnRestock(RestockReturn c)
    {
        const string cmd = nameof(RestockReturn);
        if (!TryLocation(cmd, c.LocationId, c.ReturnId ?? "", out var loc))
        {
            return;
        }

        if (string.IsNullOrEmpty(c.Sku) || c.Quantity <= 0)
        {
            Reject(cmd, c.ReturnId ?? "", "restock needs a SKU and a positive quantity");
            return;
        }

        // A returned bundle goes back on the shelf as its components.
        var consumes = _s.Skus[_s.SkuId(c.Sku)].Consumes;
        foreach (var comp in consumes)
        {
            Move(_s.Cell(comp.Sku, loc), MovementKind.ReturnRestock, c.Quantity * comp.Quantity, c.ReturnId ?? "", null);
            Dirty(comp.Sku);
        }
    }

    private void OnSnapshot(ReconcileSnapshot c)
    {
        const string cmd = nameof(ReconcileSnapshot);
        if (!TryLocation(cmd, c.LocationId, c.LocationId ?? "", out var loc))
        {
            return;
        }

        var reported = new Dictionary<int, int>();
        foreach (var item in c.Quantities ?? [])
        {
            if (item is null || string.IsNullOrEmpty(item.Sku) || item.Quantity < 0)
            {
                Reject(cmd, c.LocationId, "snapshot lines need a SKU and a non-negative quantity");
                return;
            }

            if (_s.SkuIds.TryGetValue(item.Sku, out var existing) && _s.Skus[existing].Bundle is not null)
            {
                Reject(cmd, c.LocationId, $"'{item.Sku}' is a bundle and holds no stock");
                return;
            }
        }

        foreach (var item in c.Quantities ?? [])
        {
            var id = _s.SkuId(item.Sku);
            if (!reported.TryAdd(id, item.Quantity))
            {
                // Interning a SKU id is not a state change anyone can observe, so rejecting here is still clean.
                Reject(cmd, c.LocationId, $"'{item.Sku}' listed twice");
                return;
            }
        }

        // SKU-id order keeps outputs independent of the snapshot's line order and of hash order.
        for (var sku = 0; sku < _s.Skus.Count; sku++)
        {
            var entry = _s.Skus[sku];
            if (entry.Bundle is not null)
            {
                continue;
            }

            var listed = reported.TryGetValue(sku, out var quantity);
            if (!listed && !c.Complete)
            {
                continue;
            }

            var cell = (uint)loc < (uint)entry.Cells.Length ? entry.Cells[loc] : null;
            var expected = cell?.OnHand ?? 0;
            if (expected == quantity)
            {
                continue;
            }

            cell ??= _s.Cell(sku, loc);
            var delta = quantity - expected;
            _out.Add(new DriftDetected(c.LocationId!, entry.Code, expected, quantity, delta));
            Move(cell, MovementKind.SnapshotReconciliation, delta, c.LocationId!, "3pl-snapshot");
            AfterOnHandChange(cell, delta, "3PL snapshot");
        }
    }

    /// <summary>
    /// On hand fell below what is promised (allocations + transfer reservations). Unless oversell is allowed, take
    /// allocations back from the orders last in backorder order first, then trim transfer reservations; the
    /// released orders are re-allocated (elsewhere if possible) before the command completes.
    /// This scans all open orders, which is acceptable for a rare, operator-driven path.
    /// </summary>
    private void ReleaseExcess(StockCell cell, string why)
    {
        if (_s.AllowOversell || cell.Allocated + cell.Reserved <= cell.OnHand)
        {
            return;
        }

        var holders = new List<Order>();
        foreach (var order in _s.Orders.Values)
        {
            foreach (var line in order.Lines)
            {
                if (line.AllocatedAt(cell.Location) > 0 && QuantityOf(line.Components, cell.Sku) > 0)
                {
                    holders.Add(order);
                    break;
                }
            }
        }

        holders.Sort(BackorderOrder.Instance);
        var locId = _s.Locations[cell.Location].Id;
        for (var i = holders.Count - 1; i >= 0 && cell.Allocated + cell.Reserved > cell.OnHand; i--)
        {
            var order = holders[i];
            var released = new List<LineAllocation>();
            for (var li = order.Lines.Length - 1; li >= 0 && cell.Allocated + cell.Reserved > cell.OnHand; li--)
            {
                var line = order.Lines[li];
                var q = QuantityOf(line.Components, cell.Sku);
                var at = IndexOfAllocation(line, cell.Location);
                if (q == 0 || at < 0)
                {
                    continue;
                }

                var excess = cell.Allocated + cell.Reserved - cell.OnHand;
                var units = Math.Min(line.Allocations[at].Quantity, (excess + q - 1) / q);
                ReleaseAt(line, at, units, released);
            }

            _out.Add(new AllocationReleased(order.Id, released, $"stock of {_s.Skus[cell.Sku].Code} at {locId} fell below its allocations ({why})", ReleaseCause.StockLost));
            _retry.Add(order);
        }

        if (cell.Allocated + cell.Reserved <= cell.OnHand)
        {
            return;
        }

        var transfers = new List<Transfer>();
        foreach (var t in _s.Transfers.Values)
        {
            if (t.Status == TransferStatus.Requested && t.From == cell.Location)
            {
                transfers.Add(t);
            }
        }

        transfers.Sort(static (a, b) => string.CompareOrdinal(b.Id, a.Id));
        foreach (var t in transfers)
        {
            foreach (var line in t.Lines)
            {
                if (line.Sku == cell.Sku && line.Reserved > 0 && cell.Reserved > 0 && cell.Allocated + cell.Reserved > cell.OnHand)
                {
                    var cut = Math.Min(line.Reserved, cell.Allocated + cell.Reserved - cell.OnHand);
                    line.Reserved -= cut;
                    cell.Reserved -= cut;
                    Touch(cell);
                    EmitTransfer(t);
                }
            }
        }
    }

    private static int QuantityOf(Component[] components, int sku)
    {
        foreach (var c in components)
        {
            if (c.Sku == sku)
            {
                return c.Quantity;
            }
        }

        return 0;
    }

    private static int IndexOfAllocation(OrderLine line, int location)
    {
        for (var i = 0; i < line.Allocations.Count; i++)
        {
            if (line.Allocations[i].Location == location)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Takes units of a line back from one location: its components return to free stock there.</summary>
    private void ReleaseAt(OrderLine line, int allocationIndex, int units, List<LineAllocation>? released)
    {
        if (units <= 0)
        {
            return;
        }

        var entry = line.Allocations[allocationIndex];
        foreach (var comp in line.Components)
        {
            var cell = _s.Cell(comp.Sku, entry.Location);
            cell.Allocated -= units * comp.Quantity;
            Touch(cell);
            Dirty(comp.Sku);
        }

        entry.Quantity -= units;
        if (entry.Quantity == 0)
        {
            line.Allocations.RemoveAt(allocationIndex);
        }
        else
        {
            line.Allocations[allocationIndex] = entry;
        }

        line.AllocatedTotal -= units;
        released?.Add(new LineAllocation(line.LineId, line.Sku, _s.Locations[entry.Location].Id, units));
    }

    private void ReleaseAll(OrderLine line, List<LineAllocation> released)
    {
        for (var i = line.Allocations.Count - 1; i >= 0; i--)
        {
            ReleaseAt(line, i, line.Allocations[i].Quantity, released);
        }
    }

    // ---- transfers -------------------------------------------------------------------------------------------

    private void OnRequestTransfer(RequestTransfer c)
    {
        const string cmd = nameof(RequestTransfer);
        var id = c.TransferId ?? "";
        if (id.Length == 0 || _s.Transfers.ContainsKey(id))
        {
            Reject(cmd, id, id.Length == 0 ? "missing transfer id" : "transfer id already in use");
            return;
        }

        if (!TryLocation(cmd, c.FromLocationId, id, out var from) || !TryLocation(cmd, c.ToLocationId, id, out var to))
        {
            return;
        }

        if (from == to)
        {
            Reject(cmd, id, "source and destination are the same location");
            return;
        }

        if (c.Lines is null || c.Lines.Count == 0)
        {
            Reject(cmd, id, "a transfer needs lines");
            return;
        }

        for (var i = 0; i < c.Lines.Count; i++)
        {
            var line = c.Lines[i];
            if (line is null || string.IsNullOrEmpty(line.Sku) || line.Quantity <= 0)
            {
                Reject(cmd, id, "transfer lines need a SKU and a positive quantity");
                return;
            }

            for (var j = 0; j < i; j++)
            {
                if (c.Lines[j].Sku == line.Sku)
                {
                    Reject(cmd, id, $"'{line.Sku}' listed twice");
                    return;
                }
            }

            if (!_s.SkuIds.TryGetValue(line.Sku, out var sku) || _s.Skus[sku].Bundle is not null)
            {
                Reject(cmd, id, $"no stock of '{line.Sku}' at {c.FromLocationId}");
                return;
            }

            // Transfers may move safety stock but never stock promised to orders or other transfers.
            var cell = (uint)from < (uint)_s.Skus[sku].Cells.Length ? _s.Skus[sku].Cells[from] : null;
            var movable = cell is null ? 0 : cell.OnHand - cell.Allocated - cell.Reserved;
            if (line.Quantity > movable)
            {
                Reject(cmd, id, $"only {Math.Max(0, movable)} of '{line.Sku}' movable at {c.FromLocationId}, {line.Quantity} requested");
                return;
            }
        }

        var lines = new TransferLine[c.Lines.Count];
        for (var i = 0; i < lines.Length; i++)
        {
            var sku = _s.SkuIds[c.Lines[i].Sku];
            lines[i] = new TransferLine(sku, c.Lines[i].Quantity);
            var cell = _s.Cell(sku, from);
            cell.Reserved += c.Lines[i].Quantity;
            Touch(cell);
        }

        var transfer = new Transfer(id, from, to, lines);
        _s.Transfers.Add(id, transfer);
        EmitTransfer(transfer);
    }

    private bool TryTransfer(string cmd, string? id, TransferStatus expected, out Transfer transfer)
    {
        if (string.IsNullOrEmpty(id) || !_s.Transfers.TryGetValue(id, out transfer!))
        {
            transfer = null!;
            Reject(cmd, id ?? "", "unknown transfer");
            return false;
        }

        if (transfer.Status != expected)
        {
            Reject(cmd, id, $"transfer is {transfer.Status}, expected {expected}");
            return false;
        }

        return true;
    }

    /// <summary>Maps command lines onto transfer lines; every SKU must belong to the transfer.</summary>
    private bool TryTransferQuantities(string cmd, Transfer t, IReadOnlyList<SkuQuantity>? lines, out int[] quantities)
    {
        quantities = new int[t.Lines.Length];
        var seen = new bool[t.Lines.Length];
        foreach (var line in lines ?? [])
        {
            var index = -1;
            if (line is not null && _s.SkuIds.TryGetValue(line.Sku ?? "", out var sku))
            {
                for (var i = 0; i < t.Lines.Length; i++)
                {
                    if (t.Lines[i].Sku == sku)
                    {
                        index = i;
                    }
                }
            }

            if (index < 0 || line!.Quantity < 0 || seen[index])
            {
                Reject(cmd, t.Id, $"line '{line?.Sku}' is not on the transfer, repeated, or negative");
                return false;
            }

            seen[index] = true;
            quantities[index] = line.Quantity;
        }

        return true;
    }

    private void OnShipTransfer(ShipTransfer c)
    {
        const string cmd = nameof(ShipTransfer);
        if (!TryTransfer(cmd, c.TransferId, TransferStatus.Requested, out var t)
            || !TryTransferQuantities(cmd, t, c.Lines, out var shipped))
        {
            return;
        }

        for (var i = 0; i < shipped.Length; i++)
        {
            if (shipped[i] > t.Lines[i].Reserved)
            {
                Reject(cmd, t.Id, $"ships {shipped[i]} of '{_s.Skus[t.Lines[i].Sku].Code}' but only {t.Lines[i].Reserved} reserved");
                return;
            }
        }

        for (var i = 0; i < shipped.Length; i++)
        {
            var line = t.Lines[i];
            var source = _s.Cell(line.Sku, t.From);
            source.Reserved -= line.Reserved;
            if (line.Reserved > shipped[i])
            {
                Dirty(line.Sku);
            }

            line.Reserved = 0;
            line.Shipped = shipped[i];
            Touch(source);
            if (shipped[i] > 0)
            {
                Move(source, MovementKind.TransferShipped, -shipped[i], t.Id, null);
                var target = _s.Cell(line.Sku, t.To);
                target.InTransit += shipped[i];
                Touch(target);
            }
        }

        t.Status = TransferStatus.Shipped;
        EmitTransfer(t);
    }

    private void OnReceiveTransfer(ReceiveTransfer c)
    {
        const string cmd = nameof(ReceiveTransfer);
        if (!TryTransfer(cmd, c.TransferId, TransferStatus.Shipped, out var t)
            || !TryTransferQuantities(cmd, t, c.Lines, out var received))
        {
            return;
        }

        for (var i = 0; i < received.Length; i++)
        {
            var line = t.Lines[i];
            line.Received = received[i];
            var target = _s.Cell(line.Sku, t.To);
            target.InTransit -= line.Shipped;
            Touch(target);
            // Book what was shipped, then the difference on its own: short and over receipts stay visible.
            if (line.Shipped > 0)
            {
                Move(target, MovementKind.TransferReceived, line.Shipped, t.Id, null);
            }

            if (received[i] != line.Shipped)
            {
                Move(target, MovementKind.TransferDiscrepancy, received[i] - line.Shipped, t.Id, received[i] < line.Shipped ? "short-receipt" : "over-receipt");
            }

            if (received[i] > 0)
            {
                Dirty(line.Sku);
            }
        }

        t.Status = TransferStatus.Received;
        _s.Transfers.Remove(t.Id);
        EmitTransfer(t);
    }

    private void OnCancelTransfer(CancelTransfer c)
    {
        if (!TryTransfer(nameof(CancelTransfer), c.TransferId, TransferStatus.Requested, out var t))
        {
            return;
        }

        foreach (var line in t.Lines)
        {
            var cell = _s.Cell(line.Sku, t.From);
            cell.Reserved -= line.Reserved;
            line.Reserved = 0;
            Touch(cell);
            Dirty(line.Sku);
        }

        t.Status = TransferStatus.Cancelled;
        _s.Transfers.Remove(t.Id);
        EmitTransfer(t);
    }

    private void EmitTransfer(Transfer t)
    {
        var lines = new TransferLineState[t.Lines.Length];
        for (var i = 0; i < lines.Length; i++)
        {
            var l = t.Lines[i];
            lines[i] = new TransferLineState(_s.Skus[l.Sku].Code, l.Requested, l.Reserved, l.Shipped, l.Received);
        }

        _out.Add(new TransferUpdated(t.Id, _s.Locations[t.From].Id, _s.Locations[t.To].Id, t.Status, lines));
    }

    // ---- stock level outputs ---------------------------------------------------------------------------------

    private void EmitLevels()
    {
        if (_touched.Count == 0)
        {
            return;
        }

        // Insertion sort: a command touches a handful of cells, and the order must not depend on touch order.
        for (var i = 1; i < _touched.Count; i++)
        {
            var cell = _touched[i];
            var j = i - 1;
            while (j >= 0 && (_touched[j].Sku > cell.Sku || (_touched[j].Sku == cell.Sku && _touched[j].Location > cell.Location)))
            {
                _touched[j + 1] = _touched[j];
                j--;
            }

            _touched[j + 1] = cell;
        }

        var channels = _s.ConfiguredChannels;
        Span<bool> reports = channels.Count <= 64 ? stackalloc bool[64] : new bool[channels.Count];
        List<int>? bundles = null;
        foreach (var cell in _touched)
        {
            var entry = _s.Skus[cell.Sku];
            var location = _s.Locations[cell.Location];
            ChannelAvailability[] perChannel = [];
            if (channels.Count > 0)
            {
                var sellable = location.Kind != LocationKind.AmazonFba;
                var count = 0;
                for (var i = 0; i < channels.Count; i++)
                {
                    reports[i] = ReportsChannel(channels, i, cell.Location, sellable);
                    count += reports[i] ? 1 : 0;
                }

                perChannel = count == 0 ? [] : new ChannelAvailability[count];
                count = 0;
                for (var i = 0; i < channels.Count; i++)
                {
                    if (reports[i])
                    {
                        var ch = channels[i];
                        perChannel[count++] = new ChannelAvailability(ch.Name, _s.ChannelAvailable(ch, cell.Sku), ch.Shop);
                    }
                }
            }

            _out.Add(new StockLevelChanged(entry.Code, location.Id, cell.OnHand, cell.Allocated, cell.Reserved, cell.Safety, cell.InTransit, Math.Max(0, cell.Free), cell.Free, perChannel));
            if (entry.UsedInBundles is { Count: > 0 } used && channels.Count > 0)
            {
                bundles ??= [];
                foreach (var b in used)
                {
                    if (!bundles.Contains(b))
                    {
                        bundles.Add(b);
                    }
                }
            }
        }

        if (bundles is null)
        {
            return;
        }

        bundles.Sort();
        foreach (var b in bundles)
        {
            var bundle = _s.Skus[b];
            var list = new ChannelAvailability[channels.Count];
            for (var i = 0; i < list.Length; i++)
            {
                list[i] = new ChannelAvailability(channels[i].Name, _s.ChannelBundleAvailable(channels[i], bundle.Bundle!), channels[i].Shop);
            }

            _out.Add(new BundleAvailabilityChanged(bundle.Code, list));
        }
    }

    /// <summary>
    /// Whether a cell's level carries this configuration's availability: the location (not FBA, whose stock is
    /// Amazon's to report) serves it, or its sellable locations changed in this command. A channel's configurations (channel-wide, then its shops) are reported
    /// together or not at all, so a consumer never applies the channel-wide figure to a shop with its own.
    /// </summary>
    private bool ReportsChannel(List<ChannelConfig> channels, int index, int location, bool sellable)
    {
        var config = channels[index];
        if (config.Parent is null && config.Shops is null)
        {
            return config.ChangedAt == _s.CommandSeq || (sellable && config.Serves(location));
        }

        var name = config.Name;
        var first = index;
        while (first > 0 && channels[first - 1].Name == name)
        {
            first--;
        }

        for (var i = first; i < channels.Count && channels[i].Name == name; i++)
        {
            if (channels[i].ChangedAt == _s.CommandSeq || (sellable && channels[i].Serves(location)))
            {
                return true;
            }
        }

        return false;
    }
}
