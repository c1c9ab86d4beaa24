using Fulfillment.Processors.Runtime;
using Fulfillment.Schemas.Allocations;
using Fulfillment.Schemas.Common;
using Fulfillment.Schemas.Operator;
using Fulfillment.Schemas.Stock;
using static Fulfillment.Processors.Inventory.Tests.Topology.AvroEvents;
using AvroAllocationDecided = Fulfillment.Schemas.Allocations.AllocationDecided;
using AvroStockLevelChanged = Fulfillment.Schemas.Stock.StockLevelChanged;
using AvroStockMoved = Fulfillment.Schemas.Stock.StockMoved;

namespace Fulfillment.Processors.Inventory.Tests.Topology;

/// <summary>The new operator commands and the ledger movements through the topology, and the compact pool state.</summary>
public sealed class PoolOperatorAndStateTests : IDisposable
{
    private static readonly InventoryPoolTopics Topics = InventoryPoolTopics.Catalog;
    private static readonly InventoryPoolTopologyOptions SmallSnapshots = new() { MinSnapshotLogBytes = 4096, SnapshotPartBytes = 256 };
    private readonly List<TopologyTestDriver> _drivers = [];

    public void Dispose()
    {
        foreach (var d in _drivers)
        {
            d.Dispose();
        }
    }

    private (InventoryPoolTopology Pool, TopologyTestDriver Driver) Start(InventoryPoolTopologyOptions? options = null)
    {
        var pool = InventoryPoolTopology.Build(Topics, InventoryPoolSerdes.Create(Topics, _ => 7), options: options);
        var driver = new TopologyTestDriver(pool.Topology, partitions: 2, startTime: new DateTimeOffset(T0));
        _drivers.Add(driver);
        return (pool, driver);
    }

    private static void Setup(InventoryPoolTopology pool, TopologyTestDriver driver, string p)
    {
        driver.Pipe(pool.OperatorCommands, p, Location(p, "NYC", 40.71, -74.0));
        driver.Pipe(pool.OperatorCommands, p, Location(p, "LAX", 34.05, -118.24));
        driver.Pipe(pool.OperatorCommands, p, Receipt(p, "r1", "NYC", ("A", 5), ("B", 5)));
        driver.Pipe(pool.OperatorCommands, p, Receipt(p, "r2", "LAX", ("A", 5), ("B", 5)));
        driver.ReadOutput(pool.StockLevels);
    }

    [Fact]
    public void OperatorCommands_BundleMappingAndSettings_ChangeHowOrdersAreAllocated()
    {
        var (pool, driver) = Start();
        Setup(pool, driver, "m");

        driver.Pipe(pool.OperatorCommands, "m", Bundle("m", "kit", "KIT", ("A", 1), ("B", 2)));
        driver.Pipe(pool.Orders, "m", Placed("m", "o1", 42.36, -71.06, ("KIT", 2)));
        var kit = driver.ReadOutput(pool.Allocations).Single().Value.body.ShouldBeOfType<AvroAllocationDecided>();
        var levels = driver.ReadOutput(pool.StockLevels).Select(r => r.Value.body).OfType<AvroStockLevelChanged>().ToList();

        driver.Pipe(pool.OperatorCommands, "m", ChannelLocations("m", "map", Channel.Shopify, "LAX"));
        driver.Pipe(pool.Orders, "m", Placed("m", "o2", 42.36, -71.06, ("A", 1)));
        var mapped = driver.ReadOutput(pool.Allocations).Single().Value.body.ShouldBeOfType<AvroAllocationDecided>();

        driver.Pipe(pool.OperatorCommands, "m", Settings("m", "settings", policy: BackorderPolicy.ShipComplete));
        driver.Pipe(pool.Orders, "m", Placed("m", "o3", 42.36, -71.06, ("A", 2), ("B", 9)));
        var complete = driver.ReadOutput(pool.Allocations).Select(r => r.Value.body).ToList();

        driver.Pipe(pool.OperatorCommands, "m", BundleGone("m", "unkit", "KIT"));
        driver.Pipe(pool.OperatorCommands, "m", ChannelLocations("m", "unmap", Channel.Shopify, null));
        driver.Pipe(pool.OperatorCommands, "m", Settings("m", "settings-2"));
        driver.ReadOutput(pool.Allocations);
        driver.Pipe(pool.Orders, "m", Placed("m", "o4", 42.36, -71.06, ("KIT", 1)));
        var plain = driver.ReadOutput(pool.Allocations).Select(r => r.Value.body).ToList();

        kit.lines.Select(l => (l.sku, l.location_id, l.quantity)).ShouldBe([("KIT", "NYC", 2)]);
        levels.Select(l => (l.sku, l.location_id, l.allocated)).ShouldBe([("A", "NYC", 2), ("B", "NYC", 4)]);
        mapped.lines.Single().location_id.ShouldBe("LAX", "Shopify may only use LAX");
        complete.OfType<AvroAllocationDecided>().Single().lines.ShouldBeEmpty("ship complete: 9 B cannot all be allocated");
        complete.OfType<OrderBackordered>().Single().lines.Sum(l => l.quantity).ShouldBe(11);
        plain.OfType<OrderBackordered>().Single().lines.Single().sku.ShouldBe("KIT", "no longer a bundle, and a plain KIT has no stock");
        driver.ReadOutput(pool.DeadLetters).ShouldBeEmpty();
    }

    [Fact]
    public void LedgerMovements_ArePublishedOnStockLevels_AndSumToOnHandOfEveryCell()
    {
        var (pool, driver) = Start();
        Setup(pool, driver, "m");
        driver.Pipe(pool.OperatorCommands, "m", Adjustment("m", "adj", "NYC", AdjustmentReason.Damaged, ("A", -1)));
        driver.Pipe(pool.OperatorCommands, "m", Count("m", "cnt", "LAX", ("B", 7), ("A", 5)));
        driver.Pipe(pool.Orders, "m", Placed("m", "o1", 42.36, -71.06, ("A", 2)));
        driver.Pipe(pool.Shipments, "m", Shipped("m", "o1", "s1", "NYC", ("1", 2)));
        driver.Pipe(pool.StockMovements, "m", Snapshot("m", "snap", "LAX", ("A", 4)));

        var events = driver.ReadOutput(pool.StockLevels).Select(r => r.Value.body).ToList();
        var moves = events.OfType<AvroStockMoved>().ToList();
        moves.Select(m => (m.sku, m.location_id, m.kind, m.quantity, m.on_hand_after, (string?)m.reason_code)).ShouldBe(
        [
            ("A", "NYC", StockMovementKind.Adjustment, -1, 4, "Damaged"),
            ("B", "LAX", StockMovementKind.CycleCount, 2, 7, "cycle-count"),
            ("A", "LAX", StockMovementKind.CycleCount, 0, 5, "cycle-count"),
            ("A", "NYC", StockMovementKind.Shipment, -2, 2, null),
            ("A", "LAX", StockMovementKind.SnapshotReconciliation, -1, 4, "3pl-snapshot"),
        ]);

        // Starting from the receipts' 5 per cell, the movements explain every level published after them.
        var sums = new Dictionary<(string, string), int> { [("A", "NYC")] = 5, [("B", "NYC")] = 5, [("A", "LAX")] = 5, [("B", "LAX")] = 5 };
        foreach (var e in events)
        {
            switch (e)
            {
                case AvroStockMoved m:
                    sums[(m.sku, m.location_id)] += m.quantity;
                    m.on_hand_after.ShouldBe(sums[(m.sku, m.location_id)]);
                    break;
                case AvroStockLevelChanged l:
                    l.on_hand.ShouldBe(sums[(l.sku, l.location_id)], $"{l.sku}@{l.location_id}");
                    break;
            }
        }
    }

    [Fact]
    public void PoolState_RestoredFromSnapshotAndLogManyTimes_GivesTheSameOutputsAndStoresAsAnUninterruptedRun()
    {
        var (a, driverA) = Start(SmallSnapshots);
        var (b, driverB) = Start(SmallSnapshots);

        var uninterrupted = Workload.Run(a, driverA, records: 1500, forgetEvery: 0);
        var restored = Workload.Run(b, driverB, records: 1500, forgetEvery: 37);

        restored.Outputs.Count.ShouldBe(uninterrupted.Outputs.Count);
        restored.Outputs.ShouldBe(uninterrupted.Outputs);
        Workload.Stores(b, driverB).ShouldBe(Workload.Stores(a, driverA));
        driverB.ReadStore(b.Snapshots).Select(kv => kv.Key.Part).ShouldContain(1, "the snapshots must have been written (and read) in several parts");
        uninterrupted.Outputs.Count(o => o.StartsWith("fulfillment.dead-letters", StringComparison.Ordinal)).ShouldBeLessThan(uninterrupted.Outputs.Count / 10);
    }

    [Fact]
    public void PoolState_ManyCommandsOnAFixedSkuSet_StoredBytesStayBounded()
    {
        var (pool, driver) = Start(SmallSnapshots);

        var run = Workload.Run(pool, driver, records: 4000, forgetEvery: 0, sampleEvery: 200);

        // The store holds a snapshot (what the pool holds now) plus less log than max(4 KiB, snapshot) since it.
        var samples = run.StoredBytes;
        var firstHalf = samples.Take(samples.Count / 2).Max();
        var secondHalf = samples.Skip(samples.Count / 2).Max();
        secondHalf.ShouldBeLessThan((long)(firstHalf * 1.25), $"stored bytes per 200 records: {string.Join(", ", samples)}");
        samples.Max().ShouldBeLessThan(64 * 1024);
        run.LogBytesWritten.ShouldBeGreaterThan(10 * samples.Max(), "the command log written is many times what stays stored");
        driver.ReadStore(pool.Commands).Count.ShouldBeLessThan(200);
    }

    /// <summary>
    /// A deterministic mixed workload over 20 SKUs and two sites in two pools: orders placed, then shipped where
    /// they are allocated (or cancelled when short), receipts, adjustments and counts. Orders leave the pool as they
    /// ship, so the pool's content stays the same size while its history grows.
    /// </summary>
    private static class Workload
    {
        private static readonly string[] Pools = ["p1", "p2"];

        public sealed record Result(List<string> Outputs, List<long> StoredBytes, long LogBytesWritten);

        public static Result Run(InventoryPoolTopology pool, TopologyTestDriver driver, int records, int forgetEvery, int sampleEvery = 0)
        {
            var random = new Random(20261124);
            var outputs = new List<string>();
            var samples = new List<long>();
            long logBytes = 0;
            var seenLogKeys = new HashSet<(string, long)>();
            var open = new Queue<(string Pool, string Order, int Units)>();
            var allocations = new Dictionary<string, List<AllocationLine>>();
            foreach (var p in Pools)
            {
                driver.Pipe(pool.OperatorCommands, p, Location(p, "NYC", 40.71, -74.0));
                driver.Pipe(pool.OperatorCommands, p, Location(p, "LAX", 34.05, -118.24));
                driver.Pipe(pool.OperatorCommands, p, Bundle(p, "kit", "KIT", ("S0", 1), ("S1", 2)));
                driver.Pipe(pool.OperatorCommands, p, Receipt(p, $"{p}-r0", "NYC", [.. Enumerable.Range(0, 20).Select(i => ($"S{i}", 20))]));
            }

            Collect(pool, driver, outputs, allocations);
            for (var i = 0; i < records; i++)
            {
                if (forgetEvery > 0 && i % forgetEvery == 0)
                {
                    pool.ForgetCachedState();
                }

                var p = Pools[random.Next(Pools.Length)];
                var sku = $"S{random.Next(20)}";
                var site = random.Next(2) == 0 ? "NYC" : "LAX";
                switch (i % 10)
                {
                    case < 4:
                    {
                        var lines = Enumerable.Range(0, 1 + random.Next(2)).Select(_ => (random.Next(8) == 0 ? "KIT" : $"S{random.Next(20)}", 1 + random.Next(3))).ToArray();
                        var id = $"o{i}";
                        driver.Pipe(pool.Orders, p, Placed(p, id, 30 + random.Next(15), -120 + random.Next(50), lines));
                        open.Enqueue((p, id, lines.Sum(l => l.Item2)));
                        break;
                    }

                    case < 8:
                        if (open.TryDequeue(out var order))
                        {
                            var held = allocations.GetValueOrDefault(order.Order) ?? [];
                            if (held.Sum(l => l.quantity) == order.Units)
                            {
                                foreach (var at in held.GroupBy(l => l.location_id))
                                {
                                    driver.Pipe(pool.Shipments, order.Pool, Shipped(order.Pool, order.Order, $"{order.Order}-{at.Key}", at.Key, [.. at.Select(l => (l.line_id, l.quantity))]));
                                }
                            }
                            else
                            {
                                driver.Pipe(pool.Orders, order.Pool, Cancelled(order.Pool, order.Order));
                            }

                            allocations.Remove(order.Order);
                        }

                        break;
                    case 8:
                        driver.Pipe(pool.OperatorCommands, p, Receipt(p, $"r{i}", site, (sku, 8 + random.Next(8)), ("S0", 2), ("S1", 4)));
                        break;
                    default:
                        driver.Pipe(pool.OperatorCommands, p, random.Next(3) == 0
                            ? Count(p, $"c{i}", site, (sku, random.Next(10)))
                            : Adjustment(p, $"a{i}", site, random.Next(2) == 0 ? AdjustmentReason.Damaged : AdjustmentReason.Found, (sku, random.Next(2) == 0 ? -1 : 2)));
                        break;
                }

                Collect(pool, driver, outputs, allocations);
                foreach (var (key, value) in driver.ReadStore(pool.Commands))
                {
                    if (seenLogKeys.Add(key))
                    {
                        logBytes += value?.Length ?? 0;
                    }
                }

                if (sampleEvery > 0 && i % sampleEvery == sampleEvery - 1)
                {
                    samples.Add(Stores(pool, driver).Sum(kv => kv.Length));
                }
            }

            return new Result(outputs, samples, logBytes);
        }

        /// <summary>Every store entry as bytes (key and value), in store order.</summary>
        public static List<byte[]> Stores(InventoryPoolTopology pool, TopologyTestDriver driver)
        {
            var all = new List<byte[]>();
            foreach (var (key, value) in driver.ReadStore(pool.Commands))
            {
                all.Add([.. System.Text.Encoding.UTF8.GetBytes($"c/{key.Pool}/{key.Sequence}/"), .. value ?? []]);
            }

            foreach (var (key, value) in driver.ReadStore(pool.Snapshots))
            {
                all.Add([.. System.Text.Encoding.UTF8.GetBytes($"s/{key.Pool}/{key.Part}/"), .. value ?? []]);
            }

            foreach (var (key, value) in driver.ReadStore(pool.Sequence))
            {
                all.Add(System.Text.Encoding.UTF8.GetBytes($"q/{key}/{value}"));
            }

            return all;
        }

        private static void Collect(InventoryPoolTopology pool, TopologyTestDriver driver, List<string> outputs, Dictionary<string, List<AllocationLine>> allocations)
        {
            foreach (var topic in new[] { Topics.Allocations, Topics.StockLevels, Topics.DeadLetters })
            {
                foreach (var r in driver.ReadOutput(topic))
                {
                    outputs.Add($"{topic} {Convert.ToHexString(r.Key ?? [])} {Convert.ToHexString(r.Value ?? [])}");
                    if (topic == Topics.Allocations && pool.Allocations.ValueSerde.Deserialize(r.Value).body is AvroAllocationDecided d)
                    {
                        allocations[d.order_id] = [.. d.lines];
                    }
                }
            }
        }
    }
}
