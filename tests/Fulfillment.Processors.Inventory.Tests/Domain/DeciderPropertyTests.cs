using CsCheck;
using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

/// <summary>
/// Random interleavings of orders, edits, cancellations, receipts, adjustments, counts, transfers, snapshots,
/// restocks and shipments against a small pool (four sites incl. a 3PL and FBA, two channels, bundles), mixed with
/// operator changes at runtime (bundles defined, redefined and removed, channel and shop mappings set and cleared,
/// channel and shop routing with excluded locations and require-full, pool settings: split default, ship-complete,
/// oversell), with the ledger, routing and reporting invariants checked after every command.
/// </summary>
public class DeciderPropertyTests
{
    private static readonly string[] Skus = ["A", "B", "C", "KIT", "KIT2"];
    private static readonly string[] Sites = ["NYC", "LAX", "TPL", "FBA"];
    private static readonly string?[] Shops = [null, "s1", "s2"];

    /// <summary>A step is five small numbers; the harness turns them into a command against the current state.</summary>
    private static readonly Gen<int[][]> Steps = Gen.Int[0, 1_000_000].Array[5].Array[1, 120];

    private static UpsertLocation Lax(bool active = true) => Site("LAX", "US", LosAngeles, serves: ["US"], priority: 1, active: active);

    private static UpsertLocation Tpl(bool active = true) =>
        Site("TPL", "DE", Berlin, LocationKind.ThirdParty, serves: ["DE", "FR", "US"], maxWeightGrams: 5000, active: active);

    private static InventoryCommand[] Setup(bool oversell) =>
    [
        Site("NYC", "US", NewYork, region: "NY"),
        Lax(),
        Tpl(),
        Site("FBA", "US", kind: LocationKind.AmazonFba),
        new SetChannelLocations("amazon", ["NYC", "FBA"]),
        new SetRoutingRules("amazon", [RoutingRule.ChannelRanking, RoutingRule.Proximity], AllowSplit: false, ["NYC"]),
        new SetRoutingRules("web", [RoutingRule.MinimiseSplits, RoutingRule.Proximity, RoutingRule.StockBalance], AllowSplit: true, []),
        new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]),
        new ConfigurePool(oversell),
    ];

    private static InventoryCommand ToCommand(int[] s, PoolState state, DateTimeOffset now, Dictionary<string, string> transferSkus, bool oversellRun)
    {
        var kind = s[0] % 23;
        var order = $"o{s[1] % 12}";
        var sku = Skus[s[2] % 3];
        var site = Sites[s[3] % 4];
        var n = s[4] % 7;
        switch (kind)
        {
            case 0:
            case 1:
            {
                var amazon = s[2] % 2 == 0;
                return new PlaceOrder(order, amazon ? "amazon" : "web", amazon && s[3] % 3 == 0 ? FulfillmentMode.Amazon : FulfillmentMode.Merchant, s[4] % 3, now.AddMinutes(-(s[1] % 5)), ShipToFor(s[3]), LinesFor(s, 0), Shops[(s[1] / 12) % 3]);
            }

            case 2: return new UpdateOrder(order, ShipToFor(s[4]), LinesFor(s, s[0] % 2 == 0 ? 0 : 1));
            case 3: return new CancelOrder(order, "test");
            case 4: return new ReceiveStock(sku, site, n + 1, "po");
            case 5: return new AdjustStock(sku, site, n - 3, n % 2 == 0 ? "damaged" : "found");
            case 6: return new CountStock(sku, site, n);
            case 7:
                transferSkus.TryAdd($"t{s[1] % 4}", sku);
                return new RequestTransfer($"t{s[1] % 4}", site, Sites[(s[3] + 1 + (s[4] % 2)) % 4], [new SkuQuantity(sku, (n % 3) + 1)]);
            case 8:
            {
                // Mostly (close to) what is still reserved, so transfers get as far as being received.
                var id = $"t{s[1] % 4}";
                var quantity = s[4] % 5 != 0 && state.Transfers.TryGetValue(id, out var open) ? Math.Max(1, open.Lines[0].Reserved - (n % 2)) : n % 4;
                return new ShipTransfer(id, [new SkuQuantity(TransferSku(s, sku, state, transferSkus), quantity)]);
            }

            case 9: return new ReceiveTransfer($"t{s[1] % 4}", [new SkuQuantity(TransferSku(s, sku, state, transferSkus), n % 4)]);
            case 10: return new ReconcileSnapshot("TPL", [new SkuQuantity(sku, n)], Complete: s[4] % 5 == 0);
            case 11: return new SetSafetyStock(sku, site, n % 3);
            case 12: return new RestockReturn($"r{s[1]}", Skus[s[2] % 4], site, (n % 2) + 1);
            case 13: return new CancelTransfer($"t{s[1] % 4}");
            case 16:
                // Components drawn from A, B, C; the bundle is KIT or KIT2 (a redefinition when it exists).
                return new DefineBundle(
                    s[1] % 2 == 0 ? "KIT" : "KIT2",
                    [new SkuQuantity(Skus[s[2] % 3], 1 + (n % 2)), .. s[3] % 2 == 0 ? [new SkuQuantity(Skus[(s[2] + 1) % 3], 1 + (s[4] % 3))] : Array.Empty<SkuQuantity>()]);
            case 17: return new RemoveBundle(s[1] % 3 == 0 ? "A" : s[1] % 2 == 0 ? "KIT" : "KIT2");
            case 18:
                return new SetChannelLocations(
                    s[1] % 2 == 0 ? "web" : "amazon",
                    s[2] % 3 == 0 ? null : [.. Sites.Where((_, i) => ((s[3] >> i) & 1) == 1)],
                    Shops[s[4] % 3]);
            case 20:
            case 21:
                // Routing of a channel or shop: a chain, ranking, excluded sites (sometimes an unknown one) and require-full.
                return new SetRoutingRules(
                    s[1] % 2 == 0 ? "web" : "amazon",
                    s[2] % 2 == 0 ? [RoutingRule.MinimiseSplits, RoutingRule.Proximity] : [RoutingRule.ChannelRanking, RoutingRule.StockBalance, RoutingRule.MinimiseSplits],
                    AllowSplit: s[2] % 3 != 0,
                    s[3] % 3 == 0 ? ["LAX", "NYC"] : [],
                    [.. Sites.Where((_, i) => ((s[4] >> i) & 1) == 1 && s[4] % 3 != 0), .. s[4] % 31 == 0 ? ["NOWHERE"] : Array.Empty<string>()],
                    RequireFullAvailability: s[1] % 3 == 0,
                    ShopId: Shops[(s[3] / 3) % 3]);
            case 22:
                // Sites deactivated and reactivated: they keep their allocations, get no new ones and stop selling.
                return s[2] % 3 == 0
                    ? new DeactivateLocation(s[1] % 2 == 0 ? "LAX" : "TPL")
                    : s[1] % 2 == 0 ? Lax(active: s[3] % 2 == 0) : Tpl(active: s[3] % 2 == 0);
            case 19:
                return new ConfigurePool(
                    oversellRun && s[1] % 2 == 0,
                    AllowSplit: s[2] % 2 == 0,
                    Backorders: s[3] % 2 == 0 ? BackorderPolicy.ShipComplete : BackorderPolicy.AllocateAvailable);
            default: return ShipSomething(s, state, order);
        }
    }

    /// <summary>
    /// Mostly the SKU the open transfer with that id was requested with (ids are reused once a transfer is closed),
    /// so transfers get shipped and received.
    /// </summary>
    private static string TransferSku(int[] s, string sku, PoolState state, Dictionary<string, string> transferSkus)
    {
        if (s[4] % 5 == 0)
        {
            return sku;
        }

        var id = $"t{s[1] % 4}";
        return state.Transfers.TryGetValue(id, out var open) ? state.Skus[open.Lines[0].Sku].Code
            : transferSkus.TryGetValue(id, out var requested) ? requested : sku;
    }

    private static ShipTo ShipToFor(int x) => (x % 4) switch
    {
        0 => new ShipTo("US", "MA", Boston),
        1 => new ShipTo("US", "CA"),
        2 => new ShipTo("FR"),
        _ => new ShipTo("DE", null, Berlin),
    };

    private static OrderLineRequest[] LinesFor(int[] s, int variant)
    {
        var count = 1 + (s[2] % 3);
        var lines = new OrderLineRequest[count];
        for (var i = 0; i < count; i++)
        {
            var pick = (s[3] + (i * 7) + variant) % 5;
            lines[i] = new OrderLineRequest($"l{(i + variant) % 3}{Skus[pick]}", Skus[pick], 1 + ((s[4] + i + variant) % 4), 700);
        }

        return lines.DistinctBy(l => l.LineId).ToArray();
    }

    /// <summary>Usually a valid shipment of (part of) what is allocated; sometimes one from the wrong site or too big.</summary>
    private static ConfirmShipment ShipSomething(int[] s, PoolState state, string order)
    {
        var view = state.GetOrder(order);
        var shipment = $"sh{s[1]}-{s[4]}";
        var allocation = view?.Lines.SelectMany(l => l.Allocations).FirstOrDefault();
        if (allocation is null)
        {
            return new ConfirmShipment(order, shipment, Sites[s[3] % 4], [new ShippedLine("l0A", 1)]);
        }

        var quantity = s[4] % 5 == 0 ? allocation.Quantity + 1 : 1 + (s[4] % allocation.Quantity);
        var site = s[3] % 7 == 0 ? Sites[s[3] % 4] : allocation.LocationId;
        return new ConfirmShipment(order, shipment, site, [new ShippedLine(allocation.LineId, quantity)]);
    }

    private sealed record RunResult(List<InventoryEvent> Events, HashSet<string> Accepted);

    /// <summary>
    /// Runs a sequence and checks every invariant after every command; returns all outputs and the kinds of
    /// commands that were accepted. With <paramref name="restoreEvery"/> the pool state is replaced, before every
    /// such step, by its snapshot read back (which must write the same bytes again).
    /// </summary>
    private static RunResult Run(int[][] steps, bool oversell, int restoreEvery = 0, InventoryDecider? decider = null)
    {
        var pool = new PoolHarness(decider).With(Setup(oversell));
        var routing = new RoutingModel();
        foreach (var c in Setup(oversell))
        {
            routing.Apply(c);
        }

        var reported = new Dictionary<(string Channel, string? Shop, string Sku), int>();
        var placed = new Dictionary<string, PlaceOrder>();
        var movementSum = new Dictionary<(string, string), int>();
        var transferSkus = new Dictionary<string, string>();
        var accepted = new HashSet<string>();
        long shippedUnits = 0, deductedUnits = 0;
        var oversellSeen = oversell;
        for (var i = 0; i < steps.Length; i++)
        {
            if (restoreEvery > 0 && i % restoreEvery == restoreEvery - 1)
            {
                var bytes = PoolSnapshot.Write(pool.State);
                pool.State = PoolSnapshot.Read(bytes);
                PoolSnapshot.Write(pool.State).ShouldBe(bytes, "a restored state writes the same snapshot");
            }

            var step = steps[i];
            var command = ToCommand(step, pool.State, pool.Now, transferSkus, oversell);
            var before = pool.State.GetLevels().ToDictionary(l => (l.Sku, l.LocationId), l => l.Level);
            var orderBefore = command is ConfirmShipment ship ? pool.State.GetOrder(ship.OrderId) : null;
            var allocatedBefore = Allocations(pool.State);
            var events = pool.Do(command);
            oversellSeen |= pool.State.AllowOversell;
            if (!events.OfType<CommandRejected>().Any())
            {
                routing.Apply(command);
                if (command is PlaceOrder p)
                {
                    placed[p.OrderId] = p;
                }
            }

            if (command is ReceiveStock && !events.OfType<AllocationReleased>().Any())
            {
                // One fill pass: backorders are served FIFO (priority higher first, then placed earlier, then order id).
                var filled = events.OfType<AllocationDecided>().Where(d => d.RuleTrail[0].StartsWith("backorder fill", StringComparison.Ordinal))
                    .Select(d => placed[d.OrderId]).ToList();
                filled.ShouldBe(
                    [.. filled.OrderByDescending(o => o.Priority).ThenBy(o => o.PlacedAt).ThenBy(o => o.OrderId, StringComparer.Ordinal)],
                    "backorders filled out of FIFO order");
            }

            CheckRouting(pool.State, routing, allocatedBefore);
            CheckReportedLevels(pool.State, events, routing, reported);

            foreach (var moved in events.OfType<StockMoved>())
            {
                var key = (moved.Sku, moved.LocationId);
                movementSum[key] = movementSum.GetValueOrDefault(key) + moved.Delta;
                moved.OnHandAfter.ShouldBe(movementSum[key], $"running movement sum of {key}");
                if (moved.Kind == MovementKind.Shipment)
                {
                    deductedUnits -= moved.Delta;
                }
            }

            foreach (var shipped in events.OfType<ShipmentRecorded>())
            {
                // What a shipped line deducts is what it captured when it was ordered, whatever the bundle is now.
                shippedUnits += shipped.Lines.Sum(l => orderBefore!.Lines.Single(x => x.LineId == l.LineId).Components.Sum(c => c.Quantity * l.Quantity));
            }

            shippedUnits.ShouldBe(deductedUnits, "shipped == deducted");
            if (events.Count == 1 && events[0] is CommandRejected)
            {
                pool.State.GetLevels().ToDictionary(l => (l.Sku, l.LocationId), l => l.Level).ShouldBe(before, $"rejected {command} changed state");
            }
            else if (!events.OfType<CommandRejected>().Any())
            {
                accepted.Add(command.GetType().Name);
            }

            CheckInvariants(pool.State, movementSum, before, oversellSeen);
        }

        return new RunResult(pool.Events, accepted);
    }

    private static void CheckInvariants(
        PoolState state,
        Dictionary<(string, string), int> movementSum,
        Dictionary<(string Sku, string LocationId), StockLevel> before,
        bool oversell)
    {
        var allocatedByOrders = new Dictionary<(string, string), int>();
        foreach (var id in state.GetOrderIds())
        {
            var order = state.GetOrder(id)!;
            foreach (var line in order.Lines)
            {
                line.Backordered.ShouldBeGreaterThanOrEqualTo(0);
                (line.Shipped + line.Backordered + line.Allocations.Sum(a => a.Quantity)).ShouldBe(line.Quantity);
                foreach (var a in line.Allocations)
                {
                    // AFN orders only ever sit at FBA, and FBA stock only ever serves AFN orders.
                    (a.LocationId == "FBA").ShouldBe(order.Mode == FulfillmentMode.Amazon, $"order {id} allocated at {a.LocationId}");
                    foreach (var c in line.Components)
                    {
                        var key = (c.Sku, a.LocationId);
                        allocatedByOrders[key] = allocatedByOrders.GetValueOrDefault(key) + (c.Quantity * a.Quantity);
                    }
                }
            }

            if (state.Backorders == BackorderPolicy.ShipComplete && !oversell)
            {
                // Ship complete: an order is either fully allocated (what is not shipped) or holds nothing.
                (order.Lines.Sum(l => l.Backordered) == 0 || order.Lines.All(l => l.Allocations.Count == 0))
                    .ShouldBeTrue($"ship-complete order {id} is partly allocated");
            }
        }

        foreach (var (sku, site, level) in state.GetLevels())
        {
            var where = $"{sku}@{site}";
            level.OnHand.ShouldBe(movementSum.GetValueOrDefault((sku, site)), $"movements sum to on hand at {where}");
            level.Allocated.ShouldBe(allocatedByOrders.GetValueOrDefault((sku, site)), $"allocations of open orders at {where}");
            level.Reserved.ShouldBeGreaterThanOrEqualTo(0, where);
            level.InTransit.ShouldBeGreaterThanOrEqualTo(0, where);
            level.Available.ShouldBeGreaterThanOrEqualTo(0, where);
            if (!oversell)
            {
                // Under oversell a shipment of stock the ledger never had drives on hand negative: that is the signal.
                level.OnHand.ShouldBeGreaterThanOrEqualTo(0, where);
                (level.Allocated + level.Reserved).ShouldBeLessThanOrEqualTo(level.OnHand, $"allocated never above on hand at {where}");
                var allocatedBefore = before.TryGetValue((sku, site), out var b) ? b.Allocated : 0;
                if (level.Allocated > allocatedBefore)
                {
                    level.Net.ShouldBeGreaterThanOrEqualTo(0, $"new allocations never eat safety stock at {where}");
                }
            }
        }
    }

    /// <summary>What the accepted mapping and routing commands say, resolved the documented way (independent of the decider).</summary>
    private sealed class RoutingModel
    {
        private readonly Dictionary<(string, string?), string[]?> _mapping = [];
        private readonly Dictionary<(string, string?), (string[] Excluded, bool RequireFull)> _routing = [];

        public HashSet<(string Channel, string? Shop)> Configured { get; } = [];

        public HashSet<string> Inactive { get; } = [];

        public void Apply(InventoryCommand command)
        {
            switch (command)
            {
                case UpsertLocation u when u.Active:
                    Inactive.Remove(u.LocationId);
                    break;
                case UpsertLocation u:
                    Inactive.Add(u.LocationId);
                    break;
                case DeactivateLocation d:
                    Inactive.Add(d.LocationId);
                    break;
                case SetChannelLocations m:
                {
                    var key = (m.Channel, string.IsNullOrEmpty(m.ShopId) ? null : m.ShopId);
                    if (key.Item2 is not null && m.LocationIds is null)
                    {
                        _mapping.Remove(key);
                    }
                    else
                    {
                        _mapping[key] = m.LocationIds?.ToArray();
                    }

                    Configure(key);
                    break;
                }

                case SetRoutingRules r:
                {
                    var key = (r.Channel, string.IsNullOrEmpty(r.ShopId) ? null : r.ShopId);
                    _routing[key] = ([.. r.ExcludedLocations ?? []], r.RequireFullAvailability);
                    Configure(key);
                    break;
                }
            }
        }

        private void Configure((string Channel, string? Shop) key)
        {
            Configured.Add(key);
            Configured.Add((key.Channel, null));
        }

        public bool Serves(string channel, string? shop, string location)
        {
            var mapping = shop is not null && _mapping.TryGetValue((channel, shop), out var own) ? own : _mapping.GetValueOrDefault((channel, null));
            return (mapping is null || mapping.Contains(location)) && !Routing(channel, shop).Excluded.Contains(location);
        }

        public (string[] Excluded, bool RequireFull) Routing(string channel, string? shop) =>
            shop is not null && _routing.TryGetValue((channel, shop), out var own) ? own : _routing.GetValueOrDefault((channel, null), ([], false));
    }

    private static Dictionary<(string Order, string Line, string Sku, string Location), int> Allocations(PoolState state) =>
        state.GetOrderIds().Select(id => state.GetOrder(id)!)
            .SelectMany(o => o.Lines.SelectMany(l => l.Allocations.Select(a => (Key: (o.OrderId, l.LineId, l.Sku, a.LocationId), a.Quantity))))
            .ToDictionary(x => x.Key, x => x.Quantity);

    /// <summary>
    /// New allocations only at locations the order's channel or shop is mapped to and does not exclude; an order whose
    /// routing requires full availability is never partly allocated (it holds all it still needs, or nothing).
    /// </summary>
    private static void CheckRouting(PoolState state, RoutingModel routing, Dictionary<(string Order, string Line, string Sku, string Location), int> before)
    {
        foreach (var id in state.GetOrderIds())
        {
            var order = state.GetOrder(id)!;
            foreach (var line in order.Lines)
            {
                foreach (var a in line.Allocations)
                {
                    if (a.Quantity > before.GetValueOrDefault((id, line.LineId, line.Sku, a.LocationId)))
                    {
                        routing.Serves(order.Channel, order.ShopId, a.LocationId).ShouldBeTrue($"order {id} ({order.Channel}/{order.ShopId}) newly allocated at {a.LocationId}");
                        routing.Inactive.ShouldNotContain(a.LocationId, $"order {id} newly allocated at an inactive site");
                    }
                }
            }

            if (routing.Routing(order.Channel, order.ShopId).RequireFull && order.Lines.Any(l => l.Backordered > 0))
            {
                order.Lines.ShouldAllBe(l => l.Allocations.Count == 0, $"require-full order {id} is partly allocated");
            }
        }
    }

    /// <summary>
    /// What a consumer of the level events knows matches the pool: each event's figures are consistent, and the last
    /// reported available-to-sell per channel (or shop) and SKU equals what the mapped, unexcluded, active non-FBA
    /// sites hold now — so no change of a channel's figure (stock, safety, mapping, exclusion) goes unannounced.
    /// </summary>
    private static void CheckReportedLevels(
        PoolState state,
        IReadOnlyList<InventoryEvent> events,
        RoutingModel routing,
        Dictionary<(string Channel, string? Shop, string Sku), int> reported)
    {
        foreach (var level in events.OfType<StockLevelChanged>())
        {
            level.Net.ShouldBe(level.OnHand - level.Allocated - level.Reserved - level.SafetyStock);
            level.Available.ShouldBe(Math.Max(0, level.Net));
            foreach (var c in level.ChannelAvailable)
            {
                c.Available.ShouldBeGreaterThanOrEqualTo(0);
                reported[(c.Channel, c.ShopId, level.Sku)] = c.Available;
            }
        }

        foreach (var cells in state.GetLevels().GroupBy(l => l.Sku))
        {
            if (state.Skus[state.SkuIds[cells.Key]].Bundle is not null)
            {
                continue;
            }

            foreach (var (channel, shop) in routing.Configured)
            {
                var expected = 0;
                foreach (var (_, location, level) in cells)
                {
                    expected += location != "FBA" && !routing.Inactive.Contains(location) && routing.Serves(channel, shop, location) ? level.Available : 0;
                }

                if (reported.GetValueOrDefault((channel, shop, cells.Key)) != expected)
                {
                    reported.GetValueOrDefault((channel, shop, cells.Key)).ShouldBe(expected, $"last reported available-to-sell of {cells.Key} on {channel}/{shop}");
                }
            }
        }
    }

    [Fact]
    public void Decider_RandomInterleavings_KeepLedgerInvariants()
    {
        Steps.Sample(steps => { Run(steps, oversell: false); }, iter: 400, threads: 1);
    }

    [Fact]
    public void Decider_RandomInterleavingsWithOversell_KeepLedgerInvariantsExceptAvailability()
    {
        Steps.Sample(steps => { Run(steps, oversell: true); }, iter: 150, threads: 1);
    }

    [Fact]
    public void Decider_SameInputTwice_GivesSameOutput()
    {
        Steps.Sample(steps =>
        {
            var first = Serialize(Run(steps, oversell: false).Events);
            var second = Serialize(Run(steps, oversell: false).Events);
            second.ShouldBe(first);
        }, iter: 100, threads: 1);
    }

    [Fact]
    public void Decider_OneInstanceSharedByTwoPools_DecidesEachAsSeparateInstancesDo()
    {
        // The topology keeps one decider per task for all its pools: scratch buffers must not carry across pools.
        Steps.Sample(steps =>
        {
            var half = steps.Length / 2;
            var first = steps[..half];
            var second = steps[half..];
            var alone = Serialize(Run(first, oversell: false).Events) + "\n--\n" + Serialize(Run(second, oversell: true).Events);
            var shared = new InventoryDecider();
            var a = new PoolHarness(shared).With(Setup(oversell: false));
            var b = new PoolHarness(shared).With(Setup(oversell: true));
            var transfersA = new Dictionary<string, string>();
            var transfersB = new Dictionary<string, string>();
            for (var i = 0; i < Math.Max(first.Length, second.Length); i++)
            {
                if (i < first.Length)
                {
                    a.Do(ToCommand(first[i], a.State, a.Now, transfersA, oversellRun: false));
                }

                if (i < second.Length)
                {
                    b.Do(ToCommand(second[i], b.State, b.Now, transfersB, oversellRun: true));
                }
            }

            (Serialize(a.Events) + "\n--\n" + Serialize(b.Events)).ShouldBe(alone);
        }, iter: 60, threads: 1);
    }

    [Fact]
    public void Decider_StateRestoredFromSnapshotMidRun_DecidesExactlyAsTheUninterruptedRun()
    {
        Steps.Sample(steps =>
        {
            var uninterrupted = Serialize(Run(steps, oversell: false).Events);
            var restored = Serialize(Run(steps, oversell: false, restoreEvery: 1 + (steps.Length % 7)).Events);
            restored.ShouldBe(uninterrupted);
        }, iter: 100, threads: 1);
    }

    [Fact]
    public void Decider_RandomInterleavings_ExerciseEveryKindOfOutcome()
    {
        // Guards the generator: if it stopped producing these, the invariants above would be checked on nothing.
        // Rare kinds (a short transfer receipt needs a transfer shipped, then received short) do not turn up in every
        // 200 random runs, so samples are drawn in rounds until all were seen, up to 2,000 runs: a generator that can
        // still produce each kind passes, one that lost a kind fails.
        string[] operatorChanges =
            [nameof(DefineBundle), nameof(RemoveBundle), nameof(SetChannelLocations), nameof(SetRoutingRules), nameof(ConfigurePool), nameof(UpsertLocation), nameof(DeactivateLocation)];
        string[] expected =
        [
            nameof(AllocationDecided), nameof(OrderBackordered), nameof(AllocationReleased), nameof(ShipmentRecorded),
            nameof(DriftDetected), nameof(CommandRejected), nameof(TransferUpdated), nameof(BundleAvailabilityChanged),
            "StockMoved.Shipment", "StockMoved.TransferReceived", "StockMoved.TransferDiscrepancy", "StockMoved.CycleCount",
            "StockMoved.Adjustment", "StockMoved.ReturnRestock", "StockMoved.SnapshotReconciliation",
        ];
        var kinds = new HashSet<string>();
        var accepted = new HashSet<string>();
        for (var round = 0; round < 10 && !(kinds.IsSupersetOf(expected) && accepted.IsSupersetOf(operatorChanges)); round++)
        {
            Steps.Sample(steps =>
            {
                var run = Run(steps, oversell: false);
                foreach (var e in run.Events)
                {
                    kinds.Add(e is StockMoved m ? $"{nameof(StockMoved)}.{m.Kind}" : e.GetType().Name);
                }

                accepted.UnionWith(run.Accepted);
            }, iter: 200, threads: 1);
        }

        operatorChanges.ShouldBeSubsetOf(accepted);
        expected.ShouldBeSubsetOf(kinds);
    }
}
