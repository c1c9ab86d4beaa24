using CsCheck;
using Fulfillment.Processors.Inventory.Domain;
using static Fulfillment.Processors.Inventory.Tests.Domain.PoolHarness;

namespace Fulfillment.Processors.Inventory.Tests.Domain;

/// <summary>
/// Random interleavings of orders, edits, cancellations, receipts, adjustments, counts, transfers, snapshots,
/// restocks and shipments against a small pool (four sites incl. a 3PL and FBA, two channels, a bundle), with the
/// ledger invariants checked after every command.
/// </summary>
public class DeciderPropertyTests
{
    private static readonly string[] Skus = ["A", "B", "C", "KIT"];
    private static readonly string[] Sites = ["NYC", "LAX", "TPL", "FBA"];
    private static readonly Dictionary<string, (string Sku, int Quantity)[]> Consumes = new()
    {
        ["A"] = [("A", 1)],
        ["B"] = [("B", 1)],
        ["C"] = [("C", 1)],
        ["KIT"] = [("A", 1), ("B", 2)],
    };

    /// <summary>A step is five small numbers; the harness turns them into a command against the current state.</summary>
    private static readonly Gen<int[][]> Steps = Gen.Int[0, 1_000_000].Array[5].Array[1, 120];

    private static InventoryCommand[] Setup(bool oversell) =>
    [
        Site("NYC", "US", NewYork, region: "NY"),
        Site("LAX", "US", LosAngeles, serves: ["US"], priority: 1),
        Site("TPL", "DE", Berlin, LocationKind.ThirdParty, serves: ["DE", "FR", "US"], maxWeightGrams: 5000),
        Site("FBA", "US", kind: LocationKind.AmazonFba),
        new SetChannelLocations("amazon", ["NYC", "FBA"]),
        new SetRoutingRules("amazon", [RoutingRule.ChannelRanking, RoutingRule.Proximity], AllowSplit: false, ["NYC"]),
        new SetRoutingRules("web", [RoutingRule.MinimiseSplits, RoutingRule.Proximity, RoutingRule.StockBalance], AllowSplit: true, []),
        new DefineBundle("KIT", [new SkuQuantity("A", 1), new SkuQuantity("B", 2)]),
        new ConfigurePool(oversell),
    ];

    private static InventoryCommand ToCommand(int[] s, PoolState state, DateTimeOffset now, Dictionary<string, string> transferSkus)
    {
        var kind = s[0] % 16;
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
                return new PlaceOrder(order, amazon ? "amazon" : "web", amazon && s[3] % 3 == 0 ? FulfillmentMode.Amazon : FulfillmentMode.Merchant, s[4] % 3, now.AddMinutes(-(s[1] % 5)), ShipToFor(s[3]), LinesFor(s, 0));
            }

            case 2: return new UpdateOrder(order, ShipToFor(s[4]), LinesFor(s, s[0] % 2 == 0 ? 0 : 1));
            case 3: return new CancelOrder(order, "test");
            case 4: return new ReceiveStock(sku, site, n + 1, "po");
            case 5: return new AdjustStock(sku, site, n - 3, n % 2 == 0 ? "damaged" : "found");
            case 6: return new CountStock(sku, site, n);
            case 7:
                transferSkus.TryAdd($"t{s[1] % 4}", sku);
                return new RequestTransfer($"t{s[1] % 4}", site, Sites[(s[3] + 1 + (s[4] % 2)) % 4], [new SkuQuantity(sku, (n % 3) + 1)]);
            case 8: return new ShipTransfer($"t{s[1] % 4}", [new SkuQuantity(TransferSku(s, sku, transferSkus), n % 4)]);
            case 9: return new ReceiveTransfer($"t{s[1] % 4}", [new SkuQuantity(TransferSku(s, sku, transferSkus), n % 4)]);
            case 10: return new ReconcileSnapshot("TPL", [new SkuQuantity(sku, n)], Complete: s[4] % 5 == 0);
            case 11: return new SetSafetyStock(sku, site, n % 3);
            case 12: return new RestockReturn($"r{s[1]}", Skus[s[2] % 4], site, (n % 2) + 1);
            case 13: return new CancelTransfer($"t{s[1] % 4}");
            default: return ShipSomething(s, state, order);
        }
    }

    /// <summary>Mostly the SKU the transfer was requested with, so transfers get shipped and received.</summary>
    private static string TransferSku(int[] s, string sku, Dictionary<string, string> transferSkus) =>
        s[4] % 5 != 0 && transferSkus.TryGetValue($"t{s[1] % 4}", out var requested) ? requested : sku;

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
            var pick = (s[3] + (i * 7) + variant) % 4;
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

    /// <summary>Runs a sequence and checks every invariant after every command; returns all outputs.</summary>
    private static List<InventoryEvent> Run(int[][] steps, bool oversell)
    {
        var pool = new PoolHarness().With(Setup(oversell));
        var movementSum = new Dictionary<(string, string), int>();
        var transferSkus = new Dictionary<string, string>();
        long shippedUnits = 0, deductedUnits = 0;
        foreach (var step in steps)
        {
            var command = ToCommand(step, pool.State, pool.Now, transferSkus);
            var before = pool.State.GetLevels().ToDictionary(l => (l.Sku, l.LocationId), l => l.Level);
            var events = pool.Do(command);

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
                shippedUnits += shipped.Lines.Sum(l => Consumes[l.Sku].Sum(c => c.Quantity * l.Quantity));
            }

            shippedUnits.ShouldBe(deductedUnits, "shipped == deducted");
            if (events.Count == 1 && events[0] is CommandRejected)
            {
                pool.State.GetLevels().ToDictionary(l => (l.Sku, l.LocationId), l => l.Level).ShouldBe(before, $"rejected {command} changed state");
            }

            CheckInvariants(pool.State, movementSum, before, oversell);
        }

        return pool.Events;
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
                    foreach (var (sku, q) in Consumes[a.Sku])
                    {
                        var key = (sku, a.LocationId);
                        allocatedByOrders[key] = allocatedByOrders.GetValueOrDefault(key) + (q * a.Quantity);
                    }
                }
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
            var first = Serialize(Run(steps, oversell: false));
            var second = Serialize(Run(steps, oversell: false));
            second.ShouldBe(first);
        }, iter: 100, threads: 1);
    }

    [Fact]
    public void Decider_RandomInterleavings_ExerciseEveryKindOfOutcome()
    {
        // Guards the generator: if it stopped producing these, the invariants above would be checked on nothing.
        var kinds = new HashSet<string>();
        Steps.Sample(steps =>
        {
            foreach (var e in Run(steps, oversell: false))
            {
                kinds.Add(e is StockMoved m ? $"{nameof(StockMoved)}.{m.Kind}" : e.GetType().Name);
            }
        }, iter: 200, threads: 1);

        string[] expected =
        [
            nameof(AllocationDecided), nameof(OrderBackordered), nameof(AllocationReleased), nameof(ShipmentRecorded),
            nameof(DriftDetected), nameof(CommandRejected), nameof(TransferUpdated), nameof(BundleAvailabilityChanged),
            "StockMoved.Shipment", "StockMoved.TransferReceived", "StockMoved.TransferDiscrepancy", "StockMoved.CycleCount",
            "StockMoved.Adjustment", "StockMoved.ReturnRestock", "StockMoved.SnapshotReconciliation",
        ];
        expected.ShouldBeSubsetOf(kinds);
    }
}
